//go:build race

package validate

// raceEnabled: the race detector changes allocation counts, so the allocation gate does not run under it.
const raceEnabled = true
