package spec

// SetSELinuxEnabled makes validation see a host with SELinux enabled or
// disabled, until restore is called.
func SetSELinuxEnabled(enabled bool) (restore func()) {
	saved := selinuxEnabled
	selinuxEnabled = func() bool { return enabled }
	return func() { selinuxEnabled = saved }
}
