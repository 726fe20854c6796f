package mastemu

import "testing"

// TestGenerateBeyondProposalIDSpace: GALEX has 999 proposal IDs, used up
// at about 250,000 observations; generating more must still finish (it
// looped forever) and give every proposal its own ID.
func TestGenerateBeyondProposalIDSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("300,000 observations")
	}
	c := Generate(1, 300000, 1)
	if n := c.Len(); n < 300000 {
		t.Fatalf("%d observations, want at least 300,000", n)
	}
}
