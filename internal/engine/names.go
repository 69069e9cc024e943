package engine

// Names for containers run without --name, as Docker's adjective_surname
// (of people who shaped operating systems and containers).
var (
	adjectives = []string{"brave", "calm", "clever", "eager", "fond", "gentle", "happy", "jolly", "keen", "kind",
		"lucid", "merry", "nimble", "proud", "quick", "quiet", "sharp", "steady", "tender", "witty"}
	surnames = []string{"allen", "bach", "cerf", "dijkstra", "hopper", "kernighan", "knuth", "lamport", "liskov", "lovelace",
		"mccarthy", "pike", "ritchie", "shannon", "thompson", "torvalds", "turing", "wirth", "wozniak", "yonath"}
)

// randomName picks a name from the ID's first bytes, with its first
// hex digits appended so two containers rarely collide.
func randomName(id string) string {
	a, s := int(id[0])+int(id[1]), int(id[2])+int(id[3])
	return adjectives[a%len(adjectives)] + "_" + surnames[s%len(surnames)] + "_" + id[4:8]
}
