//go:build race

package reliability

// raceEnabled: `go test -race` builds the ha-webhook binary with the race detector too, so that the load scenarios
// exercise the real server's concurrency under it; a race report in a process's log fails the test.
const raceEnabled = true
