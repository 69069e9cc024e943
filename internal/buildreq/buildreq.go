// Package buildreq is what berth hands berth-build for a build: berth
// parses the command line and reads the Dockerfile; berth-build, which
// links BuildKit's parser, builds. No dependencies, so berth links it
// freely.
package buildreq

// Request is berth build's command line, resolved.
type Request struct {
	// Root, Runroot and StorageDriver are berth's global options.
	Root, Runroot, StorageDriver string
	// Context is the build context's absolute path; empty: none.
	Context string
	// ContextTar is a context given as a tar archive on standard input
	// (plain, gzip or bzip2), saved to this file: berth-build unpacks it
	// and removes it; Dockerfile is then read from it (DockerfileName,
	// relative).
	ContextTar string
	// GitContext is a context given as a git URL (remote#ref:subdir):
	// berth-build checks it out, and reads the Dockerfile from it
	// (DockerfileName, relative).
	GitContext string
	// Dockerfile is the Dockerfile's text, DockerfileName its name for
	// messages.
	Dockerfile     []byte
	DockerfileName string
	Tags           []string
	BuildArgs      map[string]string
	Target         string
	NoCache        bool
	Quiet          bool
	Network        string
	IIDFile        string
	Pull           bool
	// Secrets are --secret id=ID,src=FILE: absolute host paths by ID.
	Secrets map[string]string
	// SSH are --ssh's agents by ID: an agent's socket, or private key
	// files; absolute.
	SSH map[string][]string
	// EnvSecrets are --secret id=ID,env=VAR: the variable's value by ID,
	// read by berth from its environment.
	EnvSecrets map[string]string
	// OutputFile is --output type=oci|docker,dest=FILE: the image is
	// written there, and kept only as a build step (not listed) unless
	// tagged.
	OutputFile string
	Labels     map[string]string
	// Progress is --progress: auto (tty on a terminal, else plain),
	// plain or tty.
	Progress string
	// Squash is --squash: the layers the build adds merged into one.
	Squash bool
	// Export is --output type=local|tar: the final stage's files, not an
	// image; nothing is stored but the build's steps.
	Export *Export
}

// Export is where --output type=local|tar writes the final stage's
// files: Dest is a directory (local), a file, or "-" for standard
// output (tar). berth has checked it.
type Export struct {
	Type, Dest string
}
