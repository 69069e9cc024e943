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
}
