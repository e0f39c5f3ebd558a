package telegramtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxBody bounds a request body. Telegram accepts up to 50 MB of uploads; herald
// sends only text, so a few megabytes is plenty and keeps a fuzzing client honest.
const maxBody = 8 << 20

// params holds one request's parameters, whatever encoding carried them. Every value
// is kept as text the way a form field carries it: JSON strings are unquoted, and
// numbers, booleans, objects and arrays keep their JSON spelling. That is how the
// real Bot API treats them too: chat_id may be 42 or "42", and reply_markup may be an
// object or a string holding JSON.
type params map[string]string

// errBadParams is returned for bodies that cannot be decoded at all.
var errBadParams = errors.New("telegramtest: malformed request parameters")

// parseParams reads the query string and the body of r into params. Body values win
// over query values of the same name, as in Telegram.
func parseParams(r *http.Request) (params, error) {
	p := params{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			p[k] = vs[0]
		}
	}
	if r.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("telegramtest: reading body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	ct := r.Header.Get("Content-Type")
	mediaType, mparams, err := mime.ParseMediaType(ct)
	if err != nil && ct != "" {
		return nil, fmt.Errorf("%w: content type %q", errBadParams, ct)
	}
	switch mediaType {
	case "application/json":
		if err := parseJSONParams(body, p); err != nil {
			return nil, err
		}
	case "application/x-www-form-urlencoded", "":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBadParams, err)
		}
		for k, vs := range vals {
			if len(vs) > 0 {
				p[k] = vs[0]
			}
		}
	case "multipart/form-data":
		if err := parseMultipartParams(body, mparams["boundary"], p); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: unsupported content type %q", errBadParams, mediaType)
	}
	return p, nil
}

func parseJSONParams(body []byte, p params) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return fmt.Errorf("%w: %w", errBadParams, err)
	}
	for k, raw := range obj {
		raw = bytes.TrimSpace(raw)
		if bytes.Equal(raw, []byte("null")) {
			continue
		}
		if len(raw) > 0 && raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("%w: field %s: %w", errBadParams, k, err)
			}
			p[k] = s
			continue
		}
		p[k] = string(raw)
	}
	return nil
}

func parseMultipartParams(body []byte, boundary string, p params) error {
	if boundary == "" {
		return fmt.Errorf("%w: multipart without boundary", errBadParams)
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errBadParams, err)
		}
		name := part.FormName()
		data, err := io.ReadAll(part)
		if err != nil {
			return fmt.Errorf("%w: part %s: %w", errBadParams, name, err)
		}
		switch {
		case name == "":
		case part.FileName() == "":
			p[name] = string(data)
		default:
			p[fileKey(name)] = fileParam(part.FileName(), data) // media.go
		}
	}
}

// has reports whether the parameter was given at all.
func (p params) has(name string) bool {
	_, ok := p[name]
	return ok
}

func (p params) str(name string) string { return p[name] }

// int64 parses an integer parameter; a missing parameter is 0 with ok=true so that
// callers only deal with malformed values.
func (p params) int64(name string) (int64, bool) {
	v, ok := p[name]
	if !ok || v == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		// Telegram also accepts floats that happen to be integers in JSON.
		f, ferr := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, false
		}
		return int64(f), true
	}
	return n, true
}

// bool follows Telegram's leniency: true/1 are true, everything else false.
func (p params) bool(name string) bool {
	switch strings.ToLower(strings.TrimSpace(p[name])) {
	case "true", "1":
		return true
	}
	return false
}

// json decodes a parameter holding a JSON document (an object or array).
func (p params) json(name string, dst any) error {
	v, ok := p[name]
	if !ok || strings.TrimSpace(v) == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(v), dst); err != nil {
		return fmt.Errorf("%w: field %s: %w", errBadParams, name, err)
	}
	return nil
}
