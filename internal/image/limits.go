package image

import (
	"errors"
	"fmt"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// berth's limits on what one image may make it fetch, hold in memory and
// write, against registries and archives that are hostile. Each is named
// in the error that refuses an image, so that a user knows which one was
// hit. Counts and declared sizes are checked on the manifest, before a
// byte of any blob is fetched; what layers unpack to is counted as they
// unpack. An image refused for a limit leaves nothing in the store.
const (
	// MaxLayers is Docker's: its overlay2 driver refuses an image of
	// more than 128 layers ("max depth exceeded"), so no image that runs
	// on Docker has more. containerd and containers-storage set no
	// number; each layer costs berth a download, a directory and a
	// lowerdir= entry in the overlay mount of every container.
	MaxLayers = 128

	// MaxImageBytes bounds what all the layers of an image unpack to:
	// the bytes of their uncompressed tar streams, plus the size of each
	// sparse file (whose holes cost no stream bytes). The largest public
	// images (CUDA and PyTorch development images) unpack to 10-25 GiB;
	// 64 GiB is what berth allowed for one layer before. Docker,
	// containerd and podman set no limit, and a decompression bomb fills
	// their disk.
	MaxImageBytes = 64 << 30

	// MaxLayerBlobBytes bounds one layer blob, as its manifest declares
	// it (checked before the download starts) and as it streams.
	// Compressed layers of a few GiB are common and layers that carry
	// model weights reach tens of GiB; half of MaxImageBytes leaves them
	// room, while a manifest declaring a 50 GiB layer is refused before a
	// byte of it is fetched.
	MaxLayerBlobBytes = 32 << 30

	// MaxManifestBytes bounds the JSON that berth reads whole into
	// memory: manifests, indexes, image configs, and an archive's
	// index.json or manifest.json. 4 MiB is the limit of containers/image
	// (podman, skopeo) for manifests and configs, and of the distribution
	// registry for manifests; real ones are a few KiB.
	MaxManifestBytes = 4 << 20

	// MaxLayerEntries bounds the tar entries (files, directories, links)
	// of one layer: the largest real layers hold a few hundred thousand.
	MaxLayerEntries = 1 << 20
)

// Limits are the limits a store applies; the constants above are the
// defaults, and tests lower them.
type Limits struct {
	Layers         int   // layers of one image (MaxLayers)
	ImageBytes     int64 // what one image unpacks to (MaxImageBytes)
	LayerBlobBytes int64 // one layer blob (MaxLayerBlobBytes)
	LayerEntries   int   // tar entries of one layer (MaxLayerEntries)
}

// DefaultLimits are berth's limits.
var DefaultLimits = Limits{Layers: MaxLayers, ImageBytes: MaxImageBytes,
	LayerBlobBytes: MaxLayerBlobBytes, LayerEntries: MaxLayerEntries}

// ErrLimit marks an image refused because it breaks one of berth's
// limits, or a size its own manifest declares.
var ErrLimit = errors.New("image over berth's limits")

// limitError is a refusal for a limit, in one line that names it.
type limitError string

func (e limitError) Error() string        { return string(e) }
func (e limitError) Is(target error) bool { return target == ErrLimit }

func overLimit(format string, args ...any) error {
	return limitError(fmt.Sprintf(format, args...))
}

// refused reports whether err refuses an image's content itself (a limit,
// a hostile layer, a layer that does not decompress), rather than a
// failure to get it: what such an image brought into the store is worth
// nothing, and is discarded.
func refused(err error) bool {
	return errors.Is(err, ErrLimit) || errors.Is(err, ErrUnsafeLayer) || errors.Is(err, ErrCorruptLayer)
}

// checkManifest refuses an image whose manifest breaks a limit, before
// any of its blobs is fetched.
func checkManifest(m *v1.Manifest, lim Limits) error {
	if err := checkDigest(m.Config.Digest); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := checkSize("config "+m.Config.Digest.String()+" declares", m.Config.Size, MaxManifestBytes, "MaxManifestBytes"); err != nil {
		return err
	}
	layers := make([]sizedBlob, len(m.Layers))
	for i, l := range m.Layers {
		if err := checkDigest(l.Digest); err != nil {
			return fmt.Errorf("layer: %w", err)
		}
		layers[i] = sizedBlob{"layer " + l.Digest.String() + " declares", l.Size}
	}
	return checkLayers(layers, lim)
}

// sizedBlob is a blob by its size, and the words that name it in an
// error ("layer sha256:… declares").
type sizedBlob struct {
	what string
	size int64
}

// checkLayers refuses an image of more layers than allowed, or whose
// layer blobs are, one or all together, larger than the limits allow.
func checkLayers(layers []sizedBlob, lim Limits) error {
	if n := len(layers); n > lim.Layers {
		return overLimit("image has %d layers, more than berth's limit of %d (image.MaxLayers)", n, lim.Layers)
	}
	var total int64
	for _, l := range layers {
		if err := checkSize(l.what, l.size, lim.LayerBlobBytes, "MaxLayerBlobBytes"); err != nil {
			return err
		}
		total += l.size // at most MaxLayers × MaxLayerBlobBytes: no overflow
	}
	// A compressed layer is never more than a little larger than what it
	// unpacks to (gzip adds 5 bytes per 64 KiB block of data it cannot
	// compress), hence the margin.
	if total > lim.ImageBytes+lim.ImageBytes/1024 {
		return overLimit("image's layers declare %s, more than berth's limit of %s for what an image unpacks to (image.MaxImageBytes)",
			sizeString(total), sizeString(lim.ImageBytes))
	}
	return nil
}

// checkSize refuses a negative size, or one over max, the limit named
// constant.
func checkSize(what string, size, max int64, constant string) error {
	if size < 0 {
		return fmt.Errorf("%s a negative size", what)
	}
	if size > max {
		return overLimit("%s %s, more than berth's limit of %s (image.%s)", what, sizeString(size), sizeString(max), constant)
	}
	return nil
}

// checkManifestSize refuses a manifest or index larger than berth reads.
func checkManifestSize(what string, b []byte) error {
	return checkSize(what+" is", int64(len(b)), MaxManifestBytes, "MaxManifestBytes")
}

// budget is what an image may still unpack. Its layers unpack in
// parallel and share it. It is charged with every byte of their
// uncompressed tar streams (so a decompression bomb stops at the limit,
// and so does junk after a tar's end, which is hashed), with the size of
// each sparse file, and with what layers the store already holds were
// charged when they were unpacked (recorded with them), so that an
// image's verdict does not depend on what else is stored.
type budget struct {
	limit int64
	used  atomic.Int64
	// image is the budget a layer's share (layerShare) is taken from.
	image *budget
}

func newBudget(limit int64) *budget { return &budget{limit: limit} }

// layerShare is a view of the image's budget that also counts what one
// layer was charged, to record with it.
func (b *budget) layerShare() *budget { return &budget{limit: b.limit, image: b} }

// charge takes n bytes from the budget, or fails and takes nothing, so
// that a refusal is reported by the layer that caused it and not by
// another one charging a few bytes next.
func (b *budget) charge(n int64) error {
	if b.image != nil {
		if err := b.image.charge(n); err != nil {
			return err
		}
		b.used.Add(n)
		return nil
	}
	for {
		used := b.used.Load()
		if n < 0 || n > b.limit-used {
			return b.exceeded()
		}
		// Compare and swap: an add that overshoots and is taken back would
		// make another layer's small charge fail in between.
		if b.used.CompareAndSwap(used, used+n) {
			return nil
		}
	}
}

// fits reports whether n more bytes would stay within the budget.
func (b *budget) fits(n int64) bool {
	if b.image != nil {
		return b.image.fits(n)
	}
	return n >= 0 && n <= b.limit-b.used.Load()
}

func (b *budget) exceeded() error {
	return overLimit("image unpacks to more than berth's limit of %s (image.MaxImageBytes)", sizeString(b.limit))
}

// sizeString prints bytes in binary units with one decimal, as in
// "50.0 GiB".
func sizeString(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
