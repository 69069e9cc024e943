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
	ulimits, sysctls, annotations          []string
	labels, labelFiles                     []string
	stopSignal, shmSize, cidfile           string
	stopTimeout, oomScoreAdj               int
	ipc, pid, uts, domainname              string
	addHosts, dns, dnsSearch, dnsOptions   []string
}

func addOptionFlags(fl *pflag.FlagSet, o *optionFlags) {
	stringArrayVarP(fl, &o.capAdd, "cap-add", "", "add a capability (NET_ADMIN or CAP_NET_ADMIN, or ALL)")
	stringArrayVarP(fl, &o.capDrop, "cap-drop", "", "drop a capability (or ALL); drops apply before adds")
	stringArrayVarP(fl, &o.securityOpt, "security-opt", "", "seccomp=PROFILE.json|unconfined, no-new-privileges[=BOOL], label=..., apparmor=unconfined, systempaths=unconfined, mask=PATH[:PATH], unmask=ALL|PATH[:PATH]")
	stringArrayVarP(fl, &o.groupAdd, "group-add", "", "add a supplementary group: a gid, or a name in the image's /etc/group")
	fl.StringVar(&o.stopSignal, "stop-signal", "", "signal that stops the container (default: the image's, else SIGTERM)")
	fl.IntVar(&o.stopTimeout, "stop-timeout", 0, "seconds stop and restart wait before SIGKILL (default 10; -1 for ever)")
	fl.StringVar(&o.cidfile, "cidfile", "", "write the container ID to this file (which must not exist)")
	stringArrayVarP(fl, &o.ulimits, "ulimit", "", "resource limit NAME=SOFT[:HARD], e.g. nofile=1024:2048")
	fl.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "the container's OOM score adjustment (-1000 to 1000)")
	stringArrayVarP(fl, &o.sysctls, "sysctl", "", "namespaced kernel parameter KEY=VALUE, e.g. net.ipv4.ip_unprivileged_port_start=0")
	fl.StringVar(&o.shmSize, "shm-size", "", "size of /dev/shm (default 64m)")
	stringArrayVarP(fl, &o.labels, "label", "l", "set a label KEY=VALUE")
	stringArrayVarP(fl, &o.labelFiles, "label-file", "", "read labels from a file of KEY=VALUE lines")
	fl.StringVar(&o.ipc, "ipc", "", "IPC namespace: private (default), shareable, host, or container:NAME")
	fl.StringVar(&o.pid, "pid", "", "PID namespace: the container's own (default), host, or container:NAME")
	fl.StringVar(&o.uts, "uts", "", "UTS namespace: the container's own (default), or host")
	fl.StringVar(&o.domainname, "domainname", "", "the container's NIS domain name")
	stringArrayVarP(fl, &o.addHosts, "add-host", "", "add NAME:IP (or NAME:host-gateway) to /etc/hosts (bridge networks)")
	stringArrayVarP(fl, &o.dns, "dns", "", "nameserver for the container's resolv.conf (bridge networks)")
	stringArrayVarP(fl, &o.dnsSearch, "dns-search", "", "DNS search domain (. for none)")
	stringArrayVarP(fl, &o.dnsOptions, "dns-option", "", "resolv.conf option, e.g. ndots:2")
	stringArrayVarP(fl, &o.annotations, "annotation", "", "add an OCI annotation KEY=VALUE to the container's config")
}

// apply resolves the options into cfg: labels and a seccomp profile's
// file are read now, as docker's client does.
func (o *optionFlags) apply(cfg *managed.Config, fl *pflag.FlagSet) error {
	var err error
	if cfg.SecurityOpt, err = spec.ReadSeccompProfiles(o.securityOpt); err != nil {
		return err
	}
	if cfg.Sysctls, err = spec.ParseKeyValues("sysctl", o.sysctls); err != nil {
		return err
	}
	if cfg.Annotations, err = spec.ParseKeyValues("annotation", o.annotations); err != nil {
		return err
	}
	if cfg.Labels, err = spec.ParseLabels(o.labels, o.labelFiles); err != nil {
		return err
	}
	cfg.CapAdd, cfg.CapDrop, cfg.GroupAdd, cfg.Ulimits = o.capAdd, o.capDrop, o.groupAdd, o.ulimits
	cfg.StopSignal, cfg.ShmSize = o.stopSignal, o.shmSize
	cfg.IpcMode, cfg.PidMode, cfg.UTSMode, cfg.Domainname = o.ipc, o.pid, o.uts, o.domainname
	cfg.ExtraHosts, cfg.DNS, cfg.DNSSearch, cfg.DNSOptions = o.addHosts, o.dns, o.dnsSearch, o.dnsOptions
	if fl.Changed("stop-timeout") {
		t := o.stopTimeout
		cfg.StopTimeout = &t
	}
	if fl.Changed("oom-score-adj") {
		adj := o.oomScoreAdj
		cfg.OomScoreAdj = &adj
	}
	// Before an image is pulled or anything made.
	return engine.CheckConfig(*cfg)
}
