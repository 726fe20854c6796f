//go:build race

package mastemu

// raceEnabled lets tests shrink work that the race detector slows tenfold.
const raceEnabled = true
