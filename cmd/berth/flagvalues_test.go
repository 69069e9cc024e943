package main

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"
)

// TestStringArrayAsPflags: berth's string array flags parse, print and
// read back (GetStringArray) as pflag's own, and help shows them alike.
func TestStringArrayAsPflags(t *testing.T) {
	for _, args := range [][]string{nil, {"--x", "a"}, {"--x", "a,b", "-y", `"q"`, "--x="}, {"-y", "1", "-y", "2", "--x", "3"}} {
		var ours, theirs []string
		a, b := pflag.NewFlagSet("a", pflag.ContinueOnError), pflag.NewFlagSet("b", pflag.ContinueOnError)
		stringArrayVarP(a, &ours, "x", "y", "usage")
		b.StringArrayVarP(&theirs, "x", "y", nil, "usage")
		if err := a.Parse(slices.Clone(args)); err != nil {
			t.Fatal(err)
		}
		if err := b.Parse(slices.Clone(args)); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ours, theirs) || (ours == nil) != (theirs == nil) {
			t.Errorf("%q: %q, pflag %q", args, ours, theirs)
		}
		fa, fb := a.Lookup("x"), b.Lookup("x")
		if fa.Value.String() != fb.Value.String() || fa.Value.Type() != fb.Value.Type() {
			t.Errorf("%q: %s %s, pflag %s %s", args, fa.Value.Type(), fa.Value, fb.Value.Type(), fb.Value)
		}
		if got, err := a.GetStringArray("x"); err != nil || !slices.Equal(got, theirs) {
			t.Errorf("%q: GetStringArray %q, %v", args, got, err)
		}
		if a.FlagUsages() != b.FlagUsages() {
			t.Errorf("help %q, pflag %q", a.FlagUsages(), b.FlagUsages())
		}
		sa, sb := fa.Value.(pflag.SliceValue), fb.Value.(pflag.SliceValue)
		_ = sa.Append("z")
		_ = sb.Append("z")
		if !slices.Equal(sa.GetSlice(), sb.GetSlice()) {
			t.Errorf("%q: append: %q, pflag %q", args, sa.GetSlice(), sb.GetSlice())
		}
		_ = sa.Replace([]string{"r"})
		_ = sb.Replace([]string{"r"})
		if !slices.Equal(ours, theirs) {
			t.Errorf("%q: replace: %q, pflag %q", args, ours, theirs)
		}
	}
}
