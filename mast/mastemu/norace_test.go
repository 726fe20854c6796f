//go:build !race

package mastemu

const raceEnabled = false
