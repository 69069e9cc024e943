package render

import "os/exec"

// SetHelperCommand makes f berth-format's command until restore.
func SetHelperCommand(f func() (*exec.Cmd, error)) (restore func()) {
	old := helperCommand
	helperCommand = f
	return func() { helperCommand = old }
}

// UsesHelper: t runs some object in the helper.
func (t *Template) UsesHelper() bool { return t.h != nil }
