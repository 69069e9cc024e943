package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/selfexe"
)

// buildHelper is the binary that holds BuildKit's Dockerfile parser
// (cmd/berth-build): berth itself does not link it.
const buildHelper = selfexe.BuildName

func newCommitCommand(g *globalOptions) *cobra.Command {
	var o engine.CommitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Example: "  berth commit web web:snapshot\n" +
			"  berth commit -c 'CMD [\"nginx\", \"-g\", \"daemon off;\"]' -c 'ENV MODE=prod' -m 'tuned' web",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				o.Name = args[1]
			}
			o.ApplyChanges = applyChanges
			e := g.engine()
			rec, err := e.Containers().Get(args[0])
			if err != nil {
				return err
			}
			img, err := e.Commit(context.Background(), e.WithPause(rec), o)
			if err != nil {
				return err
			}
			fmt.Println(img.ID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Author, "author", "a", "", `author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	fl.StringVarP(&o.Comment, "message", "m", "", "commit message")
	stringArrayVarP(fl, &o.Changes, "change", "c", "apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)")
	fl.BoolVarP(&o.Pause, "pause", "p", true, "pause the container while its changes are read")
	return cmd
}

// applyChanges has berth-build apply --change instructions to cfg.
func applyChanges(cfg v1.Config, changes []string) (v1.Config, error) {
	bin, err := selfexe.Helper(buildHelper)
	if err != nil {
		return cfg, errdefs.New(errdefs.ErrInvalidArgument, "--change needs %v", err)
	}
	req, err := json.Marshal(struct {
		Config  v1.Config
		Changes []string
	}{cfg, changes})
	if err != nil {
		return cfg, err
	}
	var out, errOut bytes.Buffer
	c := exec.Command(bin, "changes")
	c.Stdin, c.Stdout, c.Stderr = bytes.NewReader(req), &out, &errOut
	if err := c.Run(); err != nil {
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			return cfg, errdefs.New(errdefs.ErrInvalidArgument, "%s", msg)
		}
		return cfg, fmt.Errorf("%s changes: %w", buildHelper, err)
	}
	var res v1.Config
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return cfg, fmt.Errorf("%s changes: %w", buildHelper, err)
	}
	return res, nil
}
