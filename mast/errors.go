package mast

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. Every error returned by a Client method that stems from the
// archive's answer wraps one of these (or is a *ServiceError,
// *InvalidCriteriaError or *ResolveError), so callers map them with errors.Is
// and errors.As and never look at message text.
var (
	// ErrNotFound: the archive has no such thing (HTTP 404/410, an
	// unresolvable name).
	ErrNotFound = errors.New("mast: not found")
	// ErrUnauthorized: HTTP 401 or 403, typically exclusive-access data
	// without a valid token.
	ErrUnauthorized = errors.New("mast: unauthorized")
	// ErrServer: the archive misbehaved or could not be reached (HTTP 5xx,
	// 429, transport failure, malformed or truncated response). Usually
	// worth a retry.
	ErrServer = errors.New("mast: server error")
	// ErrChanged: a product's length differs from the one the caller knew:
	// it was replaced (reprocessed) since. Its new bytes are not returned.
	ErrChanged = errors.New("mast: product changed")
)

// ServiceError is a Mashup answer with status ERROR (astroquery raises
// RemoteServiceError with the same message), or an answer that cannot be a
// valid service response (empty body).
type ServiceError struct {
	Service string
	Msg     string
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("mast: %s: %s", e.Service, e.Msg)
}

// InvalidCriteriaError reports a criterion the client refuses before any
// query is sent. With an empty Reason the column does not exist, and the
// message is astroquery's: "Filter 'x' does not exist. Did you mean 'y'?".
type InvalidCriteriaError struct {
	Name       string // the criterion as the user spelled it ("" for the query as a whole)
	Suggestion string // closest existing column, or ""
	Reason     string // why a known column rejected the value; "" means unknown column
}

func (e *InvalidCriteriaError) Error() string {
	switch {
	case e.Reason == "" && e.Suggestion != "":
		return fmt.Sprintf("Filter '%s' does not exist. Did you mean '%s'?", e.Name, e.Suggestion)
	case e.Reason == "":
		return fmt.Sprintf("Filter '%s' does not exist.", e.Name)
	case e.Name == "":
		return e.Reason
	default:
		return fmt.Sprintf("Filter '%s': %s", e.Name, e.Reason)
	}
}

// ResolveError reports an object name the resolver could not place on the
// sky (it then wraps ErrNotFound), or an invalid resolver choice.
type ResolveError struct {
	Name     string
	Resolver string // as requested, upper-cased; "" for the default order
	Reason   string // set for invalid input; "" means the name did not resolve
}

func (e *ResolveError) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	if e.Resolver != "" {
		return fmt.Sprintf("Could not resolve %q to a sky position using resolver %q.", e.Name, e.Resolver)
	}
	return fmt.Sprintf("Could not resolve %q to a sky position.", e.Name)
}

// Unwrap makes an unresolvable name errors.Is(err, ErrNotFound).
func (e *ResolveError) Unwrap() error {
	if e.Reason == "" {
		return ErrNotFound
	}
	return nil
}

// HTTPError is a non-2xx answer. It unwraps to the sentinel for its class
// (ErrNotFound, ErrUnauthorized, ErrServer), or to nothing for other 4xx.
// URL never carries the token: the token only travels in headers.
type HTTPError struct {
	Method     string
	URL        string
	StatusCode int
	Body       string // start of the response body, token scrubbed
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("mast: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

func (e *HTTPError) Unwrap() error {
	switch {
	case e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone:
		return ErrNotFound
	case e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden:
		return ErrUnauthorized
	case e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout:
		return ErrServer
	}
	return nil
}
