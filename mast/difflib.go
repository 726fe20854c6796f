package mast

import "strings"

// closeMatch is Python's difflib.get_close_matches(word, possibilities,
// n=1, cutoff=0.6)[0], or "" when nothing is close enough. The ratio is
// SequenceMatcher(None, x, word).ratio() on code points, and ties go to
// the largest string, as heapq.nlargest over (score, x) pairs does.
func closeMatch(word string, possibilities []string) string {
	const cutoff = 0.6
	w := []rune(word)
	m := newSequenceMatcherB(w)
	best, bestScore := "", -1.0
	for _, x := range possibilities {
		score := m.ratio([]rune(x))
		if score < cutoff {
			continue
		}
		if score > bestScore || score == bestScore && x > best {
			best, bestScore = x, score
		}
	}
	return best
}

// sequenceMatcher holds the "b" side of difflib.SequenceMatcher with no
// junk function: b2j (positions of each element, ascending) and the
// autojunk "popular" elements removed from it when len(b) >= 200.
type sequenceMatcher struct {
	b   []rune
	b2j map[rune][]int
}

func newSequenceMatcherB(b []rune) *sequenceMatcher {
	m := &sequenceMatcher{b: b, b2j: map[rune][]int{}}
	for j, r := range b {
		m.b2j[r] = append(m.b2j[r], j)
	}
	if n := len(b); n >= 200 {
		ntest := n/100 + 1
		for r, idx := range m.b2j {
			if len(idx) > ntest {
				delete(m.b2j, r)
			}
		}
	}
	return m
}

// ratio is 2*M/T, M being the total size of the matching blocks.
func (m *sequenceMatcher) ratio(a []rune) float64 {
	la, lb := len(a), len(m.b)
	if la+lb == 0 {
		return 1
	}
	matches := 0
	type span struct{ alo, ahi, blo, bhi int }
	queue := []span{{0, la, 0, lb}}
	for len(queue) > 0 {
		s := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		i, j, k := m.longestMatch(a, s.alo, s.ahi, s.blo, s.bhi)
		if k == 0 {
			continue
		}
		matches += k
		if s.alo < i && s.blo < j {
			queue = append(queue, span{s.alo, i, s.blo, j})
		}
		if i+k < s.ahi && j+k < s.bhi {
			queue = append(queue, span{i + k, s.ahi, j + k, s.bhi})
		}
	}
	return 2 * float64(matches) / float64(la+lb)
}

// longestMatch is SequenceMatcher.find_longest_match without junk: the
// earliest longest block over b2j, then extended over popular elements
// (which b2j omits but which still compare equal).
func (m *sequenceMatcher) longestMatch(a []rune, alo, ahi, blo, bhi int) (int, int, int) {
	besti, bestj, bestsize := alo, blo, 0
	j2len := map[int]int{}
	for i := alo; i < ahi; i++ {
		newj2len := map[int]int{}
		for _, j := range m.b2j[a[i]] {
			if j < blo {
				continue
			}
			if j >= bhi {
				break
			}
			k := j2len[j-1] + 1
			newj2len[j] = k
			if k > bestsize {
				besti, bestj, bestsize = i-k+1, j-k+1, k
			}
		}
		j2len = newj2len
	}
	for besti > alo && bestj > blo && a[besti-1] == m.b[bestj-1] {
		besti, bestj, bestsize = besti-1, bestj-1, bestsize+1
	}
	for besti+bestsize < ahi && bestj+bestsize < bhi && a[besti+bestsize] == m.b[bestj+bestsize] {
		bestsize++
	}
	return besti, bestj, bestsize
}

// suggestColumn is the closest existing column name to a misspelt one,
// compared case-insensitively since lookups are, and returned in the
// config's spelling.
func suggestColumn(name string, cc *ColumnConfig) string {
	byLower := map[string]string{}
	var cands []string
	for _, col := range cc.Columns {
		if col.Name == "_selected_" {
			continue
		}
		l := strings.ToLower(col.Name)
		if _, dup := byLower[l]; dup {
			continue
		}
		byLower[l] = col.Name
		cands = append(cands, l)
	}
	return byLower[closeMatch(strings.ToLower(name), cands)]
}
