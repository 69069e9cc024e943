package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data (little endian).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

const retBadArch = unix.SECCOMP_RET_KILL_PROCESS

// body is what a span of syscall numbers does: the rules in order, then
// ret when none holds. Unconditional outcomes have no rules.
type body struct {
	rules []rule
	ret   uint32
}

// span is the syscall numbers from start up to the next span's start.
type span struct {
	start uint64
	body  int
}

// section is the code for one audit token.
type section struct {
	audit  uint32
	spans  []span
	bodies []body
	rets   []retBody      // the unconditional bodies, by their action
	index  map[string]int // conditional body key -> index in bodies
}

// retBody is an unconditional body: it returns ret.
type retBody struct {
	ret uint32
	id  int
}

func newSection(audit uint32) *section {
	return &section{audit: audit, index: map[string]int{}}
}

// add starts a span at start, merging it into the previous one when both
// do the same.
func (s *section) add(start uint64, b body) {
	id := s.bodyID(b)
	if n := len(s.spans); n > 0 && s.spans[n-1].body == id {
		return
	}
	s.spans = append(s.spans, span{start, id})
}

// bodyID returns the index of b in s.bodies, adding it if it is new.
// Nearly every span is unconditional, and a section has a handful of
// distinct actions: those are found by a scan of rets, without building
// a key string per span.
func (s *section) bodyID(b body) int {
	if len(b.rules) == 0 {
		for _, r := range s.rets {
			if r.ret == b.ret {
				return r.id
			}
		}
		id := s.newBody(b)
		s.rets = append(s.rets, retBody{b.ret, id})
		return id
	}
	key := b.key()
	id, ok := s.index[string(key)] // a lookup does not copy key
	if !ok {
		id = s.newBody(b)
		s.index[string(key)] = id
	}
	return id
}

func (s *section) newBody(b body) int {
	s.bodies = append(s.bodies, b)
	return len(s.bodies) - 1
}

// key identifies what b does: equal keys, equal code.
func (b body) key() []byte {
	size := 4
	for _, r := range b.rules {
		size += 5
		for _, c := range r.conds {
			size += 2 + len(c.op) + 1 + 16
		}
	}
	k := binary.LittleEndian.AppendUint32(make([]byte, 0, size), b.ret)
	for _, r := range b.rules {
		k = binary.LittleEndian.AppendUint32(k, r.ret)
		k = append(k, byte(len(r.conds)))
		for _, c := range r.conds {
			k = append(k, byte(c.index))
			if c.low32 {
				k = append(k, 1)
			} else {
				k = append(k, 0)
			}
			k = append(k, c.op...)
			k = append(k, 0)
			k = binary.LittleEndian.AppendUint64(k, c.value)
			k = binary.LittleEndian.AppendUint64(k, c.value2)
		}
	}
	return k
}

// generate lays out the whole program; see the package comment.
func generate(f *filter) ([]unix.SockFilter, error) {
	secs := sections(f)
	a := newAsm(insnBound(secs))
	a.load(offArch)
	starts := make([]label, len(secs))
	for i, s := range secs {
		starts[i] = a.newLabel()
		a.jump(unix.BPF_JEQ, s.audit, starts[i], next)
	}
	a.ret(retBadArch)
	for i, s := range secs {
		a.bind(starts[i])
		a.load(offNr)
		s.emit(a)
	}
	prog, err := a.assemble()
	if err != nil {
		return nil, err
	}
	if len(prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("the filter needs %d instructions, more than the kernel's %d", len(prog), unix.BPF_MAXINSNS)
	}
	return prog, nil
}

// insnBound is at least the number of instructions, and of labels, that
// generate makes for secs, so that the assembler's slices are allocated
// once: a search tree jump per span, a return per body and per rule, and
// at most 6 instructions per comparison (emitCond), plus the dispatch on
// the audit token.
func insnBound(secs []*section) int {
	n := 2
	for _, s := range secs {
		n += 2 + len(s.spans)
		for _, b := range s.bodies {
			n++
			for _, r := range b.rules {
				n += 1 + 6*len(r.conds)
			}
		}
	}
	return n
}

// sections builds one section per audit token in use. The x86_64 token
// always has one: x86_64 is native.
func sections(f *filter) []*section {
	var secs []*section
	for _, a := range arches {
		if !slices.ContainsFunc(f.arches, func(r *archRules) bool { return r.arch.audit == a.audit }) {
			continue
		}
		var s *section
		if n := len(secs); n > 0 && secs[n-1].audit == a.audit {
			s = secs[n-1]
		} else {
			s = newSection(a.audit)
			secs = append(secs, s)
		}
		f.fill(s, a)
	}
	for _, s := range secs {
		if s.audit == unix.AUDIT_ARCH_X86_64 {
			s.add(0xffffffff, body{ret: f.def}) // nr -1: libseccomp lets it through to the rules
		}
	}
	return secs
}

// fill adds the spans of a's part of the number space to s: its rules if
// the profile enables a, the bad-architecture action otherwise.
func (f *filter) fill(s *section, a *arch) {
	i := slices.IndexFunc(f.arches, func(r *archRules) bool { return r.arch == a })
	if i < 0 {
		s.add(a.lo, body{ret: retBadArch})
		return
	}
	ar := f.arches[i]
	cur := a.lo
	for off, sr := range ar.syscalls {
		if !sr.used {
			continue
		}
		nr := a.lo + uint64(off)
		if nr > cur {
			s.add(cur, body{ret: f.def})
		}
		if sr.uncond {
			s.add(nr, body{ret: sr.ret})
		} else {
			s.add(nr, body{rules: ar.conditions[uint32(off)], ret: f.def})
		}
		cur = nr + 1
	}
	f.fillTail(s, ar, cur)
}

// fillTail covers the numbers above the last syscall with rules: the
// default action up to the highest syscall the profile names, ENOSYS
// above it when the profile wants that.
func (f *filter) fillTail(s *section, ar *archRules, cur uint64) {
	if !f.enosys || !ar.named {
		if cur < ar.arch.hi {
			s.add(cur, body{ret: f.def})
		}
		return
	}
	if cur <= ar.maxNr {
		s.add(cur, body{ret: f.def})
		cur = ar.maxNr + 1
	}
	if cur < ar.arch.hi {
		s.add(cur, body{ret: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)})
	}
}

// emit writes the section after its "ld nr": the search tree with the
// bodies only one span uses placed at their leaves, where the jump to them
// is short, then the shared bodies.
func (s *section) emit(a *asm) {
	if len(s.spans) == 1 {
		emitBody(a, s.bodies[s.spans[0].body])
		return
	}
	uses := make([]int, len(s.bodies))
	for _, sp := range s.spans {
		uses[sp.body]++
	}
	labels := make([]label, len(s.bodies))
	for i := range labels {
		labels[i] = a.newLabel()
	}
	s.tree(a, s.spans, labels, uses)
	for i, b := range s.bodies {
		if uses[i] > 1 {
			a.bind(labels[i])
			emitBody(a, b)
		}
	}
}

// tree emits a binary search over spans and returns where it starts; a
// single span is its body, emitted here if no other span uses it.
func (s *section) tree(a *asm, spans []span, bodies []label, uses []int) label {
	if len(spans) == 1 {
		id := spans[0].body
		if uses[id] == 1 {
			a.bind(bodies[id])
			emitBody(a, s.bodies[id])
		}
		return bodies[id]
	}
	here := a.newLabel()
	a.bind(here)
	mid := len(spans) / 2
	at := len(a.insns)
	a.jump(unix.BPF_JGE, uint32(spans[mid].start), next, next)
	lt := s.tree(a, spans[:mid], bodies, uses)
	rt := s.tree(a, spans[mid:], bodies, uses)
	a.insns[at].jt, a.insns[at].jf = rt, lt
	return here
}

func emitBody(a *asm, b body) {
	for _, r := range b.rules {
		fail := a.newLabel()
		for _, c := range r.conds {
			emitCond(a, c, fail)
		}
		a.ret(r.ret)
		a.bind(fail)
	}
	a.ret(b.ret)
}
