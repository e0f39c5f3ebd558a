package relay

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
	"strings"
)

// upload is a file part of a multipart request.
type upload struct {
	name, contentType string
	data              []byte
}

// params are one call's parameters, however they came: the query string, then a JSON,
// form or multipart body, whose values win, as with the Bot API. Every value is kept as a
// form field carries it: JSON strings unquoted, numbers, booleans, objects and arrays in
// their JSON spelling, so chat_id may be 42 or "42" and reply_markup an object or a string
// holding one, as Telegram allows.
type params struct {
	values map[string]string
	files  map[string]upload
}

var (
	// errTooLarge is a body over the limit: Telegram's front end answers 413.
	errTooLarge = errors.New("relay: request body too large")
	// errBadParams is a body that cannot be decoded at all.
	errBadParams = errors.New("relay: malformed request parameters")
)

// parseParams reads r's query string and body, at most maxBody bytes of it.
func parseParams(r *http.Request, maxBody int64) (params, error) {
	p := params{values: map[string]string{}, files: map[string]upload{}}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			p.values[k] = vs[0]
		}
	}
	if r.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return p, fmt.Errorf("%w: read the body: %w", errBadParams, err)
	}
	if int64(len(body)) > maxBody {
		return p, errTooLarge
	}
	return p, p.decodeBody(r.Header.Get("Content-Type"), body)
}

// decodeBody adds the parameters of a body of content type ct. It is the part of parsing
// that sees outside input only, and so what the fuzz test drives.
func (p params) decodeBody(ct string, body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	mediaType, mparams, err := mime.ParseMediaType(ct)
	if err != nil && ct != "" {
		return fmt.Errorf("%w: content type", errBadParams)
	}
	switch mediaType {
	case "application/json":
		return p.decodeJSON(body)
	case "application/x-www-form-urlencoded", "":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return fmt.Errorf("%w: %w", errBadParams, err)
		}
		for k, vs := range vals {
			if len(vs) > 0 {
				p.values[k] = vs[0]
			}
		}
		return nil
	case "multipart/form-data":
		return p.decodeMultipart(body, mparams["boundary"])
	default:
		return fmt.Errorf("%w: unsupported content type %q", errBadParams, mediaType)
	}
}

func (p params) decodeJSON(body []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return fmt.Errorf("%w: the body is not a JSON object", errBadParams)
	}
	for k, raw := range obj {
		raw = bytes.TrimSpace(raw)
		if bytes.Equal(raw, []byte("null")) {
			continue
		}
		if len(raw) > 0 && raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("%w: field %s", errBadParams, k)
			}
			p.values[k] = s
			continue
		}
		p.values[k] = string(raw)
	}
	return nil
}

func (p params) decodeMultipart(body []byte, boundary string) error {
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
		case part.FileName() != "":
			p.files[name] = upload{name: part.FileName(), contentType: part.Header.Get("Content-Type"), data: data}
		default:
			p.values[name] = string(data)
		}
	}
}

func (p params) has(name string) bool { _, ok := p.values[name]; return ok }

func (p params) str(name string) string { return p.values[name] }

// bool follows Telegram's leniency: true and 1 are true, anything else false.
func (p params) bool(name string) bool {
	switch strings.ToLower(strings.TrimSpace(p.values[name])) {
	case "true", "1":
		return true
	}
	return false
}

// rawJSON is a parameter holding a JSON document of the kind wantOpen starts ('{' or '['),
// compacted; nil when it is absent or empty, ok false when it is not such a document.
func (p params) rawJSON(name string, wantOpen byte) (json.RawMessage, bool) {
	v := strings.TrimSpace(p.values[name])
	if v == "" {
		return nil, true
	}
	var buf bytes.Buffer
	if v[0] != wantOpen || json.Compact(&buf, []byte(v)) != nil {
		return nil, false
	}
	return buf.Bytes(), true
}
