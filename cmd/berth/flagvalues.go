package main

import (
	"bytes"
	"encoding/csv"
	"strings"

	"github.com/spf13/pflag"
)

// stringArray is pflag's stringArray value (each use of the flag adds one
// string, unsplit), but for String of an empty list: pflag takes every
// flag's default as text, and its stringArray made a CSV writer with a
// 4 KiB buffer for each, fresh memory that berth run's 36 such flags
// paid for in page faults on every start.
type stringArray struct {
	value   *[]string
	changed bool
}

// stringArrayVarP defines a repeatable string flag, as pflag's
// StringArrayVarP with no default does: help shows no default for it.
func stringArrayVarP(fl *pflag.FlagSet, p *[]string, name, shorthand, usage string) {
	*p = nil
	f := fl.VarPF(&stringArray{value: p}, name, shorthand, usage)
	// pflag leaves out "(default [])" only for its own slice types; an
	// empty default is left out for any.
	f.DefValue = ""
}

// Set replaces the default with the first value, and adds the others.
func (s *stringArray) Set(val string) error {
	if !s.changed {
		*s.value = []string{val}
		s.changed = true
	} else {
		*s.value = append(*s.value, val)
	}
	return nil
}

// Append, Replace and GetSlice make it a pflag.SliceValue, as pflag's is.
func (s *stringArray) Append(val string) error {
	*s.value = append(*s.value, val)
	return nil
}

func (s *stringArray) Replace(val []string) error {
	*s.value = append([]string{}, val...)
	return nil
}

func (s *stringArray) GetSlice() []string { return append([]string{}, *s.value...) }

func (s *stringArray) Type() string { return "stringArray" }

// String is the list as pflag writes it: CSV in brackets.
func (s *stringArray) String() string {
	if len(*s.value) == 0 {
		return "[]"
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(*s.value)
	w.Flush()
	return "[" + strings.TrimSuffix(b.String(), "\n") + "]"
}
