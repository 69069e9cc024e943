// Package wide, imported for its side effect, asks for huge pages in the
// first 4 MiB of a Go process's heap at package init, where importing
// internal/hugeheap alone makes the first 2 MiB one. berth imports it;
// berth-oci, whose heap stays near 2 MiB, does not (hugeheap.Widen says
// what each touches).
package wide

import "github.com/berth-runtime/berth/internal/hugeheap"

func init() { hugeheap.Widen() }
