package fs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mastfs/mastfs/mast"
)

// Product is one file of a query directory, as `mastfs download` needs it:
// the same names, the same de-duplication and filters as the mount.
type Product struct {
	Name          string // file name in the query directory
	URI           string // dataURI
	Size          int64  // -1 when the archive gave none
	ObsCollection string
	ObsID         string
	Filename      string // productFilename
	Row           mast.Row
}

// Evaluate runs the query a path names (relative to a mount point, e.g.
// "criteria/obs_collection=HST/proposal_id=8880/@mrp") without a mount, and
// returns its products in listing order. It is what a query directory would
// list; an invalid path is a *SegmentError or a *mast.InvalidCriteriaError.
// A query over maxObs observations (maxObs > 0) is an error that says so.
func Evaluate(ctx context.Context, a Archive, path string, maxObs int, log *slog.Logger) ([]Product, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	spec, err := ParseQueryPath(TrimToQueryRoot(path))
	if err != nil {
		return nil, err
	}
	if err := spec.Runnable(); err != nil {
		return nil, &SegmentError{Segment: path, Reason: err.Error()}
	}
	if crits := spec.Criteria(); len(crits) > 0 {
		if _, err := a.BuildFilters(ctx, crits); err != nil {
			return nil, err
		}
	}
	r := newQueryRunner(a, time.Minute, maxObs, log)
	l, err := r.listing(ctx, spec)
	if err != nil {
		return nil, err
	}
	if l.TooMany {
		return nil, fmt.Errorf("%w: %d observations, limit %d", errTooMany, l.Count, l.Limit)
	}
	out := make([]Product, 0, len(l.Files))
	for _, f := range l.Files {
		coll, obsID := f.Row.Str("obs_collection"), f.Row.Str("obs_id")
		if coll == "" && f.ObsRow != nil {
			coll = f.ObsRow.Str("obs_collection")
		}
		if obsID == "" && f.ObsRow != nil {
			obsID = f.ObsRow.Str("obs_id")
		}
		out = append(out, Product{
			Name: f.Name, URI: f.URI, Size: f.Size,
			ObsCollection: coll, ObsID: obsID,
			Filename: f.Row.Str("productFilename"), Row: f.Row,
		})
	}
	return out, nil
}

// TrimToQueryRoot drops everything before the first query root component
// (a mount point, "./"), so that paths pasted from a mount work.
func TrimToQueryRoot(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		switch Kind(part) {
		case KindCriteria, KindRegion, KindObject, KindMissions, KindObsid:
			return strings.Join(parts[i:], "/")
		}
	}
	return p
}
