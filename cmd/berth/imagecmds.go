package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-runtime/berth/internal/credentials"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/progress"
	"github.com/berth-runtime/berth/internal/registry/client"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/berth-runtime/berth/internal/terminal"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// The image commands docker has and berth had not: tag, push, login,
// logout, save, load, history. Each parses, makes one call into
// internal/image or internal/credentials, and prints what docker prints.
// As docker, a command that fails exits 1 (refused), while bad arguments
// exit 125.

// failed prints err as berth's one line and exits 1, as docker does when
// a registry or the store refuses an image command.
func failed(err error) error {
	printError(err)
	return exitError{1}
}

// completeImageNames completes stored images' names (familiar, as
// docker images shows them); maxArgs bounds how many arguments take one
// (0: any number).
func completeImageNames(g *globalOptions, maxArgs int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if maxArgs > 0 && len(args) >= maxArgs {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		store, err := g.imageStore()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		imgs, err := store.List()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, img := range imgs {
			for _, n := range img.Names {
				if f := image.FamiliarName(n); strings.HasPrefix(f, toComplete) {
					names = append(names, f)
				}
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// checkRef refuses a malformed image reference before anything is done.
func checkRef(ref string) error {
	_, err := image.ParseName(ref)
	return err
}

func newTagCommand(g *globalOptions, use string) *cobra.Command {
	return &cobra.Command{
		Use:               use + " SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short:             "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Example:           "  berth tag alpine localhost:5000/alpine:3\n  berth tag 3f57d9401f8d myapp:1.0",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeImageNames(g, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := image.ParseName(args[1])
			if err != nil {
				return err
			}
			if t.Digest != "" {
				return fmt.Errorf("refusing to create a tag with a digest reference: give TARGET_IMAGE[:TAG]")
			}
			store, err := g.imageStore()
			if err != nil {
				return err
			}
			if err := store.Tag(args[0], args[1]); err != nil {
				return failed(err)
			}
			return nil
		},
	}
}

func newPushCommand(g *globalOptions, use string) *cobra.Command {
	var quiet, allTags bool
	tlsVerify := true
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Example: `  berth push registry.example.com/team/app:1.0
  berth push -a registry.example.com/team/app        # every tag of the repository
  berth push --tls-verify=false localhost:5000/app   # a plain-http registry`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeImageNames(g, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkRef(args[0]); err != nil {
				return err
			}
			store, err := g.imageStore()
			if err != nil {
				return err
			}
			refs, err := pushRefs(store, args[0], allTags)
			if err != nil {
				return err
			}
			for _, ref := range refs {
				var rep progress.Reporter
				if !quiet {
					rep = progress.NewRenderer(os.Stderr)
					fmt.Fprintf(os.Stderr, "The push refers to repository [%s]\n", repositoryOf(ref))
				}
				p, err := client.Push(g.imagesDir(), ref, !tlsVerify, rep)
				if err != nil {
					return failed(err)
				}
				if quiet {
					fmt.Println(image.FamiliarName(p.Repository + ":" + p.Tag))
				} else {
					fmt.Printf("%s: digest: %s size: %d\n", p.Tag, p.Digest, p.Size)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&allTags, "all-tags", "a", false, "push every tag of the repository")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the name pushed, no progress")
	cmd.Flags().BoolVar(&tlsVerify, "tls-verify", true, "require https with a trusted certificate (false: allow plain http)")
	return cmd
}

// repositoryOf is ref's repository as docker push names it:
// docker.io/library/alpine.
func repositoryOf(ref string) string {
	r, err := image.ParseName(ref)
	if err != nil {
		return ref
	}
	return r.Repo()
}

// pushRefs is what push uploads: NAME[:TAG] (latest by default, as
// docker says), or with -a every tag of NAME's repository.
func pushRefs(store *image.Store, ref string, all bool) ([]string, error) {
	r, _ := image.ParseName(ref)
	isTag := r.Digest == ""
	explicit := isTag && strings.HasSuffix(ref, ":"+r.Tag)
	if !all {
		if isTag && !explicit {
			fmt.Fprintln(os.Stderr, "Using default tag: latest")
		}
		return []string{ref}, nil
	}
	if !isTag || explicit {
		return nil, fmt.Errorf("a tag or digest cannot be used with --all-tags/-a: give the repository alone")
	}
	imgs, err := store.List()
	if err != nil {
		return nil, err
	}
	repo := r.Repo()
	var refs []string
	for _, img := range imgs {
		for _, n := range img.Names {
			if nr, err := image.ParseName(n); err == nil && nr.Repo() == repo {
				refs = append(refs, n)
			}
		}
	}
	if len(refs) == 0 {
		return nil, failed(fmt.Errorf("%w: %s", image.ErrNotTagged, image.FamiliarName(repo)))
	}
	return refs, nil
}

func newLoginCommand(g *globalOptions) *cobra.Command {
	var user, password string
	var passwordStdin bool
	tlsVerify := true
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry (Docker Hub by default); the credentials go where docker login keeps them",
		Example: `  berth login registry.example.com
  echo "$TOKEN" | berth login -u ci --password-stdin registry.example.com
  berth login --tls-verify=false -u me localhost:5000`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			reg, err := image.RegistryHost(server)
			if err != nil {
				return err
			}
			if password != "" {
				fmt.Fprintln(os.Stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
				if passwordStdin {
					return fmt.Errorf("--password and --password-stdin are mutually exclusive")
				}
			}
			if passwordStdin {
				if user == "" {
					return fmt.Errorf("must provide --username with --password-stdin")
				}
				if password, err = readPasswordStdin(os.Stdin); err != nil {
					return err
				}
			}
			path, err := credentials.DockerConfigPath()
			if err != nil {
				return err
			}
			key := credentials.ServerKey(reg)
			if user == "" && password == "" {
				// As docker login: stored credentials are checked again.
				if c, found, err := credentials.Lookup(path, key); err == nil && found && c.Username != "" && c.Password != "" {
					fmt.Fprintln(os.Stderr, "Authenticating with existing credentials...")
					user, password = c.Username, c.Password
				}
			}
			if user, password, err = promptCredentials(user, password); err != nil {
				return err
			}
			if err := client.CheckLogin(reg, user, password, !tlsVerify); err != nil {
				return failed(err)
			}
			if err := credentials.Store(path, key, credentials.Credential{Username: user, Password: password}); err != nil {
				return failed(err)
			}
			fmt.Fprintf(os.Stderr, "WARNING! Your password is stored unencrypted in %s.\n", path)
			fmt.Println("Login Succeeded")
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "user name")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password or token (insecure: it shows in ps and shell history; prefer --password-stdin)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password or token from standard input")
	cmd.Flags().BoolVar(&tlsVerify, "tls-verify", true, "require https with a trusted certificate (false: allow plain http)")
	return cmd
}

// readPasswordStdin reads --password-stdin's password: all of stdin, less
// the trailing newline, as docker login does.
func readPasswordStdin(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", fmt.Errorf("password is required: standard input was empty")
	}
	return p, nil
}

// promptCredentials asks for what -u and -p did not give, on a terminal.
func promptCredentials(user, password string) (string, string, error) {
	if user != "" && password != "" {
		return user, password, nil
	}
	if !terminal.IsTerminal(os.Stdin) {
		return "", "", fmt.Errorf("cannot perform an interactive login from a non TTY device: give -u and --password-stdin")
	}
	in := bufio.NewReader(os.Stdin)
	if user == "" {
		fmt.Fprint(os.Stderr, "Username: ")
		line, err := in.ReadString('\n')
		if err != nil {
			return "", "", fmt.Errorf("read the username: %w", err)
		}
		if user = strings.TrimSpace(line); user == "" {
			return "", "", fmt.Errorf("username is required")
		}
	}
	if password == "" {
		fmt.Fprint(os.Stderr, "Password: ")
		p, err := readNoEcho(os.Stdin, in)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", "", fmt.Errorf("read the password: %w", err)
		}
		if password = p; password == "" {
			return "", "", fmt.Errorf("password is required")
		}
	}
	return user, password, nil
}

// readNoEcho reads a line from the terminal f with echo off.
func readNoEcho(f *os.File, in *bufio.Reader) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	line, err := in.ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

func newLogoutCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "logout [SERVER]",
		Short:   "Log out from a registry (Docker Hub by default): remove its credentials",
		Example: "  berth logout registry.example.com",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			reg, err := image.RegistryHost(server)
			if err != nil {
				return err
			}
			key := credentials.ServerKey(reg)
			path, err := credentials.DockerConfigPath()
			if err != nil {
				return err
			}
			found, err := credentials.Erase(path, key)
			if err != nil {
				return failed(err)
			}
			if !found {
				fmt.Printf("Not logged in to %s\n", key)
				return nil
			}
			fmt.Printf("Removing login credentials for %s\n", key)
			return nil
		},
	}
}

func newSaveCommand(g *globalOptions, use string) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   use + " [-o FILE] IMAGE...",
		Short: "Save images to a tar archive (docker save format, also an OCI layout), to standard output by default",
		Example: `  berth save -o images.tar alpine myapp:1.0
  berth save alpine | gzip > alpine.tar.gz`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeImageNames(g, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.imageStore()
			if err != nil {
				return err
			}
			if output == "" {
				if terminal.IsTerminal(os.Stdout) {
					return fmt.Errorf("refusing to write an archive to a terminal: add -o FILE or redirect the output")
				}
				if err := store.Export(os.Stdout, args); err != nil {
					return failed(err)
				}
				return nil
			}
			if err := writeFileAtomic(output, func(w io.Writer) error { return store.Export(w, args) }); err != nil {
				return failed(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	return cmd
}

func newLoadCommand(g *globalOptions, use string) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   use + " [-i FILE]",
		Short: "Load images from a docker save or OCI layout archive (plain, gzip or zstd), from standard input by default",
		Example: `  berth load -i images.tar
  gunzip -c alpine.tar.gz | berth load`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if input == "" && terminal.IsTerminal(os.Stdin) {
				return fmt.Errorf("requested load from stdin, but stdin is empty: give -i FILE or redirect the input")
			}
			store, err := g.imageStore()
			if err != nil {
				return err
			}
			var o image.ImportOptions
			if !quiet {
				o.Progress = progress.NewRenderer(os.Stderr)
			}
			ctx, cancel := interruptible()
			defer cancel()
			var imgs []*image.Image
			if input != "" {
				imgs, err = store.LoadFile(ctx, input, o)
			} else {
				imgs, err = store.Load(ctx, os.Stdin, o)
			}
			if err != nil {
				return failed(err)
			}
			for _, img := range imgs {
				if len(img.Names) == 0 {
					fmt.Printf("Loaded image ID: %s\n", img.ID)
				}
				for _, n := range img.Names {
					fmt.Printf("Loaded image: %s\n", image.FamiliarName(n))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from FILE instead of standard input")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress")
	return cmd
}

func newHistoryCommand(g *globalOptions, use string) *cobra.Command {
	var noTrunc, quiet bool
	var format string
	human := true
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE",
		Short: "Show how an image was built, newest step first",
		Example: `  berth history alpine
  berth history --no-trunc --format '{{.CreatedBy}}' myapp:1.0`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeImageNames(g, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.imageStore()
			if err != nil {
				return err
			}
			steps, err := store.History(args[0])
			if err != nil {
				return failed(err)
			}
			rows := make([]any, len(steps))
			for i, s := range steps {
				rows[i] = historyRowOf(s, human, !noTrunc)
			}
			if quiet {
				format = "{{.ID}}"
			}
			return render.Rows(os.Stdout, format, render.HistoryTable, render.HistoryHeaders, rows)
		},
	}
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs and commands")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the IDs")
	cmd.Flags().BoolVarP(&human, "human", "H", true, "sizes and dates in human-readable form")
	cmd.Flags().StringVar(&format, "format", "", "Go template over ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment; 'table TEMPLATE' adds a header; 'json' prints one object per line")
	return cmd
}

func historyRowOf(s image.HistoryEntry, human, trunc bool) render.HistoryRow {
	r := render.HistoryRow{ID: s.ID, CreatedAt: s.Created.Format(time.RFC3339), Comment: s.Comment,
		CreatedBy: strings.ReplaceAll(s.CreatedBy, "\t", " ")}
	if trunc {
		if s.ID != image.Missing {
			r.ID = shortImageID(s.ID)
		}
		r.CreatedBy = ellipsis(r.CreatedBy, 45)
	}
	if human {
		r.CreatedSince, r.Size = ago(s.Created), humanSize(s.Size)
	} else {
		r.CreatedSince, r.Size = r.CreatedAt, strconv.FormatInt(s.Size, 10)
	}
	return r
}

// ellipsis cuts s to n characters, the last one "…", as docker does.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
