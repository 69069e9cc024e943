package imagetest

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Segment is a stretch of data in a sparse file; the rest is holes.
type Segment struct {
	Off  int64
	Data string
}

// SparseFormats are the ways GNU tar writes a sparse file: the old GNU
// type 'S' with the map in the header, and the three PAX versions.
var SparseFormats = []string{"gnu", "pax0.0", "pax0.1", "pax1.0"}

// SparseTar builds a tar stream holding one sparse file of size bytes in
// format, byte for byte as GNU tar writes it (Go's tar writer cannot).
func SparseTar(t testing.TB, format, name string, size int64, segs ...Segment) []byte {
	t.Helper()
	var data bytes.Buffer
	var mapKV []string
	for _, s := range segs {
		data.WriteString(s.Data)
		mapKV = append(mapKV, strconv.FormatInt(s.Off, 10), strconv.Itoa(len(s.Data)))
	}
	var out bytes.Buffer
	switch format {
	case "gnu":
		if len(segs) > 4 {
			t.Fatal("the old GNU format holds 4 segments in its header")
		}
		h := tarBlock(name, 'S', int64(data.Len()), true)
		for i, s := range segs {
			numeric(h[386+24*i:][:12], s.Off)
			numeric(h[386+24*i+12:][:12], int64(len(s.Data)))
		}
		numeric(h[483:495], size)
		checksum(h)
		out.Write(h)
		out.Write(padded(data.Bytes()))
	case "pax0.0", "pax0.1":
		recs := []string{paxRecord("GNU.sparse.size", strconv.FormatInt(size, 10)),
			paxRecord("GNU.sparse.numblocks", strconv.Itoa(len(segs)))}
		if format == "pax0.1" {
			recs = append(recs, paxRecord("GNU.sparse.map", strings.Join(mapKV, ",")))
		} else {
			for i := 0; i < len(mapKV); i += 2 {
				recs = append(recs, paxRecord("GNU.sparse.offset", mapKV[i]), paxRecord("GNU.sparse.numbytes", mapKV[i+1]))
			}
		}
		writePAX(&out, name, recs)
		out.Write(checksum(tarBlock(name, '0', int64(data.Len()), false)))
		out.Write(padded(data.Bytes()))
	case "pax1.0":
		writePAX(&out, name, []string{paxRecord("GNU.sparse.major", "1"), paxRecord("GNU.sparse.minor", "0"),
			paxRecord("GNU.sparse.name", name), paxRecord("GNU.sparse.realsize", strconv.FormatInt(size, 10))})
		sparseMap := padded([]byte(strconv.Itoa(len(segs)) + "\n" + strings.Join(mapKV, "\n") + "\n"))
		body := append(sparseMap, data.Bytes()...)
		out.Write(checksum(tarBlock("GNUSparseFile.0/"+name, '0', int64(len(body)), false)))
		out.Write(padded(body))
	default:
		t.Fatalf("unknown sparse format %q", format)
	}
	out.Write(make([]byte, 1024))
	return out.Bytes()
}

// tarBlock is a ustar (or GNU) header without its checksum.
func tarBlock(name string, typ byte, size int64, gnu bool) []byte {
	h := make([]byte, 512)
	copy(h[0:100], name)
	copy(h[100:108], "0000644\x00")
	copy(h[108:116], "0000000\x00")
	copy(h[116:124], "0000000\x00")
	numeric(h[124:136], size)
	numeric(h[136:148], 1700000000)
	h[156] = typ
	if gnu {
		copy(h[257:265], "ustar  \x00")
	} else {
		copy(h[257:265], "ustar\x0000")
	}
	return h
}

// numeric writes v as octal, or base-256 when it does not fit, as GNU tar.
func numeric(f []byte, v int64) {
	if s := strconv.FormatInt(v, 8); len(s) < len(f) {
		copy(f, strings.Repeat("0", len(f)-1-len(s))+s+"\x00")
		return
	}
	for i := len(f) - 1; i > 0; i-- {
		f[i] = byte(v)
		v >>= 8
	}
	f[0] = 0x80
}

func checksum(h []byte) []byte {
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

func padded(b []byte) []byte {
	return append(b, make([]byte, (512-len(b)%512)%512)...)
}

func paxRecord(k, v string) string {
	rest := " " + k + "=" + v + "\n"
	n := len(rest)
	for len(strconv.Itoa(n))+len(rest) != n {
		n = len(strconv.Itoa(n)) + len(rest)
	}
	return strconv.Itoa(n) + rest
}

func writePAX(out *bytes.Buffer, name string, recs []string) {
	body := strings.Join(recs, "")
	out.Write(checksum(tarBlock("PaxHeaders/"+name, 'x', int64(len(body)), false)))
	out.Write(padded([]byte(body)))
}
