package githubtest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// page is a list request's per_page and page.
type page struct {
	perPage, number int
}

// page reads per_page (default 30, at most 100) and page (from 1). GitHub clamps
// rather than refuses out-of-range values; a value that is not a number is ignored.
func (s *Server) page(_ http.ResponseWriter, r *http.Request) (page, bool) {
	p := page{perPage: 30, number: 1}
	q := r.URL.Query()
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		p.perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		p.number = v
	}
	return p, true
}

// bounds is the slice of n items this page shows (empty past the end).
func (p page) bounds(n int) (from, to int) {
	from = min((p.number-1)*p.perPage, n)
	to = min(from+p.perPage, n)
	return from, to
}

// link sets the Link header: next and last while there are later pages, first and
// prev past the first page, each the request's own URL with another page number.
func (p page) link(w http.ResponseWriter, r *http.Request, n int) {
	last := max(1, (n+p.perPage-1)/p.perPage)
	var rels []string
	at := func(number int, rel string) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(number))
		if q.Get("per_page") != "" {
			q.Set("per_page", strconv.Itoa(p.perPage))
		}
		u := fmt.Sprintf("http://%s%s?%s", r.Host, requestPath(r), q.Encode())
		rels = append(rels, fmt.Sprintf("<%s>; rel=%q", u, rel))
	}
	if p.number > 1 {
		at(min(p.number-1, last), "prev")
	}
	if p.number < last {
		at(p.number+1, "next")
		at(last, "last")
	}
	if p.number > 1 {
		at(1, "first")
	}
	if len(rels) > 0 {
		w.Header().Set("Link", strings.Join(rels, ", "))
	}
}

// requestPath is the path the client asked for, prefix included (serve strips it
// before routing; the original is kept in the request's RequestURI).
func requestPath(r *http.Request) string {
	p, _, _ := strings.Cut(r.RequestURI, "?")
	if p == "" {
		p = r.URL.Path
	}
	return p
}
