//go:build race

package admission

// raceEnabled: the race detector changes allocation counts, so the allocation gate does not run under it.
const raceEnabled = true
