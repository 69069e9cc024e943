package main

import (
	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/spf13/pflag"
)

// optionFlags are docker run's security, process and metadata options.
type optionFlags struct {
	capAdd, capDrop, securityOpt, groupAdd []string
}

func addOptionFlags(fl *pflag.FlagSet, o *optionFlags) {
	fl.StringArrayVar(&o.capAdd, "cap-add", nil, "add a capability (NET_ADMIN or CAP_NET_ADMIN, or ALL)")
	fl.StringArrayVar(&o.capDrop, "cap-drop", nil, "drop a capability (or ALL); drops apply before adds")
	fl.StringArrayVar(&o.securityOpt, "security-opt", nil, "seccomp=PROFILE.json|unconfined, no-new-privileges[=BOOL], label=..., apparmor=unconfined, systempaths=unconfined, mask=PATH[:PATH], unmask=ALL|PATH[:PATH]")
	fl.StringArrayVar(&o.groupAdd, "group-add", nil, "add a supplementary group: a gid, or a name in the image's /etc/group")
}

// apply resolves the options into cfg: a seccomp profile's file is read
// now, as docker's client does.
func (o *optionFlags) apply(cfg *managed.Config, fl *pflag.FlagSet) error {
	var err error
	if cfg.SecurityOpt, err = spec.ReadSeccompProfiles(o.securityOpt); err != nil {
		return err
	}
	cfg.CapAdd, cfg.CapDrop, cfg.GroupAdd = o.capAdd, o.capDrop, o.groupAdd
	// Before an image is pulled or anything made.
	return engine.CheckConfig(*cfg)
}
