package mast

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Service names used by the Observations class.
const (
	ServiceCone             = "Mast.Caom.Cone"
	ServiceFiltered         = "Mast.Caom.Filtered"
	ServiceFilteredPosition = "Mast.Caom.Filtered.Position"
	ServiceProducts         = "Mast.Caom.Products"
	ServiceAll              = "Mast.Caom.All"
)

// ProductBatchSize is how many obsids go into one Mast.Caom.Products
// request (astroquery's get_product_list batch_size).
const ProductBatchSize = 500

// productConcurrency bounds parallel product batches: enough to hide
// latency for a few thousand observations, few enough to stay polite.
const productConcurrency = 3

// pyPosition is astroquery's position string: ", ".join(str(x) for x in (ra, dec, radius)).
func pyPosition(p *Position) string {
	return pyFloatRepr(p.RA) + ", " + pyFloatRepr(p.Dec) + ", " + pyFloatRepr(p.Radius)
}

func checkPosition(p *Position) error {
	for _, v := range []float64{p.RA, p.Dec, p.Radius} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return &InvalidCriteriaError{Reason: fmt.Sprintf("invalid position %v", *p)}
		}
	}
	return nil
}

// observationRequest picks the service and params for q, as
// query_region / query_criteria (and their _count variants) do.
func (c *Client) observationRequest(ctx context.Context, q Query, columns string) (string, Params, error) {
	if q.Position != nil {
		if err := checkPosition(q.Position); err != nil {
			return "", nil, err
		}
	}
	count := columns != "*"
	if len(q.Criteria) == 0 {
		switch {
		case q.Position != nil && !count:
			return ServiceCone, Params{
				{"ra", q.Position.RA},
				{"dec", q.Position.Dec},
				{"radius", q.Position.Radius},
			}, nil
		case q.Position != nil:
			// query_region_count: a positional count with no filters.
			return ServiceFilteredPosition, Params{
				{"columns", columns},
				{"filters", []Filter{}},
				{"position", pyPosition(q.Position)},
			}, nil
		case count:
			// query_criteria_count() with nothing: the archive total.
			return ServiceFiltered, Params{{"columns", columns}, {"filters", []Filter{}}}, nil
		default:
			return "", nil, &InvalidCriteriaError{Reason: "At least one non-positional criterion must be supplied."}
		}
	}
	filters, err := c.buildFilters(ctx, q.Criteria)
	if err != nil {
		return "", nil, err
	}
	if q.Position == nil {
		return ServiceFiltered, Params{{"columns", columns}, {"filters", filters}}, nil
	}
	return ServiceFilteredPosition, Params{
		{"columns", columns},
		{"filters", filters},
		{"position", pyPosition(q.Position)},
	}, nil
}

// Observations runs an observation query: Mast.Caom.Cone for a position
// alone, Mast.Caom.Filtered for criteria alone, Mast.Caom.Filtered.Position
// for both. All pages are fetched.
func (c *Client) Observations(ctx context.Context, q Query) (*Table, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	service, params, err := c.observationRequest(ctx, q, "*")
	if err != nil {
		return nil, err
	}
	return c.invoke(ctx, service, params, InvokeOptions{})
}

// Count returns the number of observations q matches, from a COUNT_BIG(*)
// query alone.
func (c *Client) Count(ctx context.Context, q Query) (int64, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	service, params, err := c.observationRequest(ctx, q, "COUNT_BIG(*)")
	if err != nil {
		return 0, err
	}
	t, err := c.invoke(ctx, service, params, InvokeOptions{})
	if err != nil {
		return 0, err
	}
	// astroquery reads row 0, column 0; the column name does not matter.
	if len(t.Rows) == 0 || len(t.Fields) == 0 {
		return 0, fmt.Errorf("%w: %s: count query returned no rows", ErrServer, service)
	}
	v := t.Rows[0][t.Fields[0].Name]
	s := strings.TrimSpace(ValueString(v))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 { // a count is never negative
		return n, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && f >= 0 && f < 1<<63 {
		return int64(f), nil
	}
	return 0, fmt.Errorf("%w: %s: count %q is not an integer", ErrServer, service, s)
}

// Products returns the product table of the given observations (obsid,
// MAST's "Product Group ID"), fetched in batches of ProductBatchSize
// comma-joined ids. Items are trimmed, comma lists are split, empties and
// repeats dropped; rows come back in batch order.
func (c *Client) Products(ctx context.Context, obsids []string) (*Table, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	var ids []string
	seen := map[string]bool{}
	for _, item := range obsids {
		for _, id := range strings.Split(item, ",") {
			id = strings.TrimSpace(id)
			if id != "" && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, &InvalidCriteriaError{Reason: "Observation list is empty, no associated products."}
	}
	var batches [][]string
	for len(ids) > 0 {
		n := min(len(ids), ProductBatchSize)
		batches = append(batches, ids[:n])
		ids = ids[n:]
	}
	results := make([]*Table, len(batches))
	bctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		mu       sync.Mutex
		firstErr error // recorded before stop(), so never a cancellation we caused
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		stop() // the listing is useless without every batch
	}
	sem := make(chan struct{}, productConcurrency)
	for i, batch := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-bctx.Done():
				fail(fmt.Errorf("mast: %s: %w", ServiceProducts, bctx.Err()))
				return
			}
			defer func() { <-sem }()
			t, err := c.invoke(bctx, ServiceProducts, Params{{"obsid", strings.Join(batch, ",")}}, InvokeOptions{})
			if err != nil {
				fail(err)
				return
			}
			results[i] = t
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return stackTables(results), nil
}

// stackTables concatenates tables, columns in order of first appearance.
func stackTables(ts []*Table) *Table {
	out := &Table{}
	seen := map[string]bool{}
	for _, t := range ts {
		for _, f := range t.Fields {
			if !seen[f.Name] {
				seen[f.Name] = true
				out.Fields = append(out.Fields, f)
			}
		}
		out.Rows = append(out.Rows, t.Rows...)
	}
	return out
}

// Missions lists the mission names (obs_collection values) MAST knows,
// from the Mast.Caom.All extjs histogram, sorted bytewise like Python's sorted().
func (c *Client) Missions(ctx context.Context) ([]string, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	r, err := c.poll(ctx, ServiceAll, Params{}, InvokeOptions{Format: "extjs"}, 1, c.newCacheBreaker())
	if err != nil {
		return nil, err
	}
	var data struct {
		Tables []struct {
			Columns []struct {
				Text               string `json:"text"`
				ExtendedProperties struct {
					HistObj map[string]json.RawMessage `json:"histObj"`
				} `json:"ExtendedProperties"`
			} `json:"Columns"`
		} `json:"Tables"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		return nil, fmt.Errorf("%w: %s: malformed extjs data: %v", ErrServer, ServiceAll, err)
	}
	if len(data.Tables) == 0 {
		return nil, fmt.Errorf("%w: %s: no table in extjs data", ErrServer, ServiceAll)
	}
	for _, col := range data.Tables[0].Columns {
		if col.Text != "obs_collection" {
			continue
		}
		var names []string
		for k := range col.ExtendedProperties.HistObj {
			if k != "hist" {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		return names, nil
	}
	return nil, fmt.Errorf("%w: %s: no obs_collection histogram", ErrServer, ServiceAll)
}
