package render

// The rows of berth's list commands: docker's placeholders for each, the
// default table and the header of each column.

// PsRow is one container in berth ps (Created is berth's older name of
// RunningFor).
type PsRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Created, Status, State, Ports, Names string
	Labels, Mounts, Networks, LocalVolumes, Size                                    string
}

// PsTable is docker ps's default table; PsSizeTable is it with -s.
const (
	PsTable     = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	PsSizeTable = PsTable + "\t{{.Size}}"
)

// PsHeaders are docker ps's column names.
var PsHeaders = map[string]string{"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Created": "CREATED", "Status": "STATUS", "State": "STATE", "Ports": "PORTS", "Names": "NAMES",
	"Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES", "Size": "SIZE"}

// ImageRow is one line of berth images.
type ImageRow struct {
	Repository, Tag, ID, CreatedSince, CreatedAt, Size string
}

// ImagesTable is docker images's default table.
const ImagesTable = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

var ImagesHeaders = map[string]string{"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE"}

// HistoryRow is one line of berth history.
type HistoryRow struct {
	ID           string
	CreatedSince string
	CreatedAt    string
	CreatedBy    string
	Size         string
	Comment      string
}

const HistoryTable = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

var HistoryHeaders = map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

// NetworkRow is one line of berth network ls: docker's columns (ID is 12
// hex digits, as docker's ls), and berth's Bridge, Subnet and Containers.
type NetworkRow struct {
	ID, Name, Driver, Scope, Bridge, Subnet string
	Containers                              int
}

const NetworksTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

var NetworksHeaders = map[string]string{"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Bridge": "BRIDGE",
	"Subnet": "SUBNET", "Containers": "CONTAINERS"}

// VolumeRow is one line of berth volume ls.
type VolumeRow struct {
	Driver, Name, Mountpoint, Scope string
}

const VolumesTable = "table {{.Driver}}\t{{.Name}}"

var VolumesHeaders = map[string]string{"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE"}
