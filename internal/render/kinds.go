package render

import (
	"encoding/json"
	"reflect"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/events"
)

// The objects berth hands berth-format travel as JSON under the name of
// their kind; the helper decodes each into its own Go type, so that a
// template sees what it would see in berth: the Go field names beside
// the JSON ones (ID beside "Id"), the methods (an event's When), the
// numbers as ints. kindOf and newOf list the same types
// (TestKindsRoundTrip).

// kindOf is the name v's type travels under; "" for one not listed,
// which the helper decodes as generic JSON.
func kindOf(v any) string {
	switch v.(type) {
	case PsRow:
		return "ps"
	case ImageRow:
		return "images"
	case HistoryRow:
		return "history"
	case NetworkRow:
		return "networks"
	case VolumeRow:
		return "volumes"
	case map[string]string:
		return "headers"
	case engine.ContainerInspect:
		return "container"
	case engine.ImageInspect:
		return "image"
	case engine.VolumeInspect:
		return "volume"
	case engine.NetworkInspect:
		return "network"
	case events.Event:
		return "event"
	case engine.VersionInfo:
		return "version"
	case engine.Info:
		return "info"
	}
	return ""
}

// newOf is a pointer to a new value of kind's type.
func newOf(kind string) any {
	switch kind {
	case "ps":
		return new(PsRow)
	case "images":
		return new(ImageRow)
	case "history":
		return new(HistoryRow)
	case "networks":
		return new(NetworkRow)
	case "volumes":
		return new(VolumeRow)
	case "headers":
		return new(map[string]string)
	case "container":
		return new(engine.ContainerInspect)
	case "image":
		return new(engine.ImageInspect)
	case "volume":
		return new(engine.VolumeInspect)
	case "network":
		return new(engine.NetworkInspect)
	case "event":
		return new(events.Event)
	case "version":
		return new(engine.VersionInfo)
	case "info":
		return new(engine.Info)
	}
	return new(any)
}

// Decode is an object as berth had it: raw decoded into kind's type.
func Decode(kind string, raw []byte) (any, error) {
	p := newOf(kind)
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, err
	}
	return reflect.ValueOf(p).Elem().Interface(), nil
}
