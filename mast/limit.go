package mast

import (
	"context"
)

// ObservationsLimit runs q but stops early when it matches more than limit
// observations: it asks for one page of limit+1 rows and reads the server's
// rowsFiltered. It returns the observations (nil when over the limit) and
// the total count. One request decides, so a directory over
// --max-observations costs as much as a count query. limit <= 0 means no
// limit.
func (c *Client) ObservationsLimit(ctx context.Context, q Query, limit int) (*Table, int64, error) {
	if limit <= 0 {
		t, err := c.Observations(ctx, q)
		if err != nil {
			return nil, 0, err
		}
		return t, int64(len(t.Rows)), nil
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	service, params, err := c.observationRequest(ctx, q, "*")
	if err != nil {
		return nil, 0, err
	}
	first, err := c.invoke(ctx, service, params, InvokeOptions{PageSize: limit + 1, Page: 1})
	if err != nil {
		return nil, 0, err
	}
	total := first.RowsFiltered
	if total < 0 {
		// No paging block: the page is all there is.
		total = int64(len(first.Rows))
	}
	if total > int64(limit) || int64(len(first.Rows)) > int64(limit) {
		return nil, max(total, int64(len(first.Rows))), nil
	}
	if int64(len(first.Rows)) >= total {
		return first, total, nil
	}
	// The server capped the page below what we asked: read the rest.
	all, err := c.invoke(ctx, service, params, InvokeOptions{PageSize: limit + 1})
	if err != nil {
		return nil, 0, err
	}
	if int64(len(all.Rows)) != total {
		c.log.Warn("mast: row count changed while paging", "service", service, "rows", len(all.Rows), "rowsFiltered", total)
	}
	if len(all.Rows) > limit {
		return nil, int64(len(all.Rows)), nil
	}
	return all, int64(len(all.Rows)), nil
}

// DescribeQuery returns the invoke request q maps to, as the JSON envelope
// astroquery would send (with a placeholder cacheBreaker), without sending
// it. Building filters may fetch the column configuration.
func (c *Client) DescribeQuery(ctx context.Context, q Query, columns string) (service string, envelope string, err error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	service, params, err := c.observationRequest(ctx, q, columns)
	if err != nil {
		return "", "", err
	}
	env, err := c.envelope(service, params, InvokeOptions{}, 1, "<uuid4>")
	if err != nil {
		return "", "", err
	}
	b, err := pyJSON(env)
	if err != nil {
		return "", "", err
	}
	return service, string(b), nil
}
