package buildbot

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
)

// The shapes below are the parts of Buildbot's data API (REST v2 and the websocket's
// messages) herald reads. Every function that turns outside bytes into them is pure and
// fuzzed, so a surprising master can at worst produce an error.

// ErrMalformed is returned when Buildbot answers something that is not the expected JSON.
var ErrMalformed = errors.New("buildbot: malformed answer")

type apiBuilder struct {
	ID          int      `json:"builderid"`
	Name        string   `json:"name"`
	Description *string  `json:"description"`
	Tags        []string `json:"tags"`
	MasterIDs   []int    `json:"masterids"`
}

type apiBuild struct {
	ID             int                          `json:"buildid"`
	Number         int                          `json:"number"`
	BuilderID      int                          `json:"builderid"`
	BuildRequestID int                          `json:"buildrequestid"`
	WorkerID       int                          `json:"workerid"`
	Complete       bool                         `json:"complete"`
	StartedAt      *float64                     `json:"started_at"`
	CompleteAt     *float64                     `json:"complete_at"`
	Results        *int                         `json:"results"`
	StateString    string                       `json:"state_string"`
	Properties     map[string][]json.RawMessage `json:"properties"`
}

type apiStep struct {
	ID       int    `json:"stepid"`
	Number   int    `json:"number"`
	Name     string `json:"name"`
	Complete bool   `json:"complete"`
	Results  *int   `json:"results"`
	Hidden   bool   `json:"hidden"`
}

type apiWorker struct {
	ID           int    `json:"workerid"`
	Name         string `json:"name"`
	ConnectedTo  []any  `json:"connected_to"`
	ConfiguredOn []struct {
		BuilderID int `json:"builderid"`
	} `json:"configured_on"`
}

type apiForceScheduler struct {
	Name         string     `json:"name"`
	Label        string     `json:"label"`
	BuilderNames []string   `json:"builder_names"`
	AllFields    []apiField `json:"all_fields"`
}

type apiField struct {
	Name      string          `json:"name"`
	FullName  *string         `json:"fullName"`
	Label     json.RawMessage `json:"label"`
	Type      string          `json:"type"`
	Default   json.RawMessage `json:"default"`
	Required  bool            `json:"required"`
	Hide      bool            `json:"hide"`
	Choices   []any           `json:"choices"`
	NeedEmail bool            `json:"need_email"`
	Fields    []apiField      `json:"fields"`
}

// decodeList reads the list under key from a REST answer such as {"builds": [...], "meta": {}}.
func decodeList[T any](data []byte, key string) ([]T, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	raw, ok := env[key]
	if !ok {
		return nil, fmt.Errorf("%w: no %q in answer", ErrMalformed, key)
	}
	var out []T
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	return out, nil
}

func parseBuilders(data []byte) ([]apiBuilder, error) {
	return decodeList[apiBuilder](data, "builders")
}
func parseBuilds(data []byte) ([]apiBuild, error)   { return decodeList[apiBuild](data, "builds") }
func parseSteps(data []byte) ([]apiStep, error)     { return decodeList[apiStep](data, "steps") }
func parseWorkers(data []byte) ([]apiWorker, error) { return decodeList[apiWorker](data, "workers") }
func parseForceSchedulers(data []byte) ([]apiForceScheduler, error) {
	return decodeList[apiForceScheduler](data, "forceschedulers")
}

// resultOf maps Buildbot's result codes (SUCCESS=0 .. CANCELLED=6) to ci.Result; nil means
// still running, and an unknown code is reported as an exception rather than lost.
func resultOf(code *int) ci.Result {
	if code == nil {
		return ci.ResultNone
	}
	if *code >= 0 && *code < len(ci.Results) {
		return ci.Results[*code]
	}
	return ci.ResultException
}

// unixTime turns Buildbot's epoch seconds (sometimes fractional) into a time; nil or
// nonsense is the zero time.
func unixTime(f *float64) time.Time {
	if f == nil || *f <= 0 || math.IsNaN(*f) || *f > 1e11 {
		return time.Time{}
	}
	sec, frac := math.Modf(*f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// property returns a build property as text: strings as they are, other JSON values as
// written, absent or null as "".
func (b apiBuild) property(name string) string {
	v := b.Properties[name]
	if len(v) == 0 {
		return ""
	}
	return jsonText(v[0])
}

func jsonText(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	if string(raw) == "null" || len(raw) == 0 {
		return ""
	}
	return string(raw)
}

// toBuild fills a ci.Build from a Buildbot build; builder is the builder's name, base the
// web root with its trailing slash. Its strings are cleaned and its times made plausible
// against herald's clock now (see ci.CleanBuild): whoever may force a build can type a NUL
// into its reason, and a master's clock can be wrong.
func toBuild(conn, base, builder string, b apiBuild, now time.Time) ci.Build {
	out := ci.Build{
		Conn:       conn,
		ID:         strconv.Itoa(b.ID),
		Number:     b.Number,
		Builder:    builder,
		BuilderID:  strconv.Itoa(b.BuilderID),
		Branch:     b.property("branch"),
		Revision:   b.property("got_revision"),
		Owner:      b.property("owner"),
		Reason:     b.property("reason"),
		StartedAt:  unixTime(b.StartedAt),
		FinishedAt: unixTime(b.CompleteAt),
		Complete:   b.Complete,
		Result:     resultOf(b.Results),
		StateText:  b.StateString,
		URL:        fmt.Sprintf("%s#/builders/%d/builds/%d", base, b.BuilderID, b.Number),
	}
	if out.Revision == "" {
		out.Revision = b.property("revision")
	}
	if revs := propertyRevisions(b); len(revs) > 1 { // several codebases (sourcechanges.go)
		out.Revision, out.Revisions = revs[0], revs
	}
	if b.BuildRequestID != 0 {
		out.RequestID = strconv.Itoa(b.BuildRequestID)
	}
	if !b.Complete {
		out.Result = ci.ResultNone
	}
	return ci.CleanBuild(out, now)
}

// stepSummary picks, from a build's steps in order, the one running now and the first that
// failed (failure or exception).
func stepSummary(steps []apiStep) (current, failed string) {
	for _, s := range steps {
		if !s.Complete && current == "" && s.Results == nil {
			current = s.Name
		}
		if failed == "" && s.Results != nil && (*s.Results == 2 || *s.Results == 4) {
			failed = s.Name
		}
	}
	return current, failed
}

// forceFields flattens a force scheduler's nested form into the fields a user can set.
// Fixed and hidden fields are left out (the scheduler fills them), and so is the username
// field, which herald fills from the forcing user. needEmail reports whether that username
// field insists on an e-mail address.
func forceFields(fields []apiField) (out []ci.ForceField, needEmail bool) {
	for _, f := range fields {
		if f.Type == "nested" {
			sub, ne := forceFields(f.Fields)
			out = append(out, sub...)
			needEmail = needEmail || ne
			continue
		}
		if f.Type == "username" {
			needEmail = needEmail || f.NeedEmail
			continue
		}
		if f.Hide || f.Type == "fixed" {
			continue
		}
		var typ ci.FieldType
		switch f.Type {
		case "text", "textarea", "string":
			typ = ci.FieldText
		case "int":
			typ = ci.FieldInt
		case "bool":
			typ = ci.FieldBool
		case "list":
			typ = ci.FieldChoice
		default:
			continue // file uploads, secrets and the like cannot be typed in a chat
		}
		name := f.Name
		if f.FullName != nil && *f.FullName != "" {
			name = *f.FullName
		}
		if name == "" {
			continue
		}
		ff := ci.ForceField{
			Name:     name,
			Label:    fieldLabel(jsonText(f.Label)),
			Type:     typ,
			Default:  jsonText(f.Default),
			Required: f.Required,
		}
		if typ == ci.FieldBool && ff.Default == "" {
			ff.Default = "false"
		}
		for _, c := range f.Choices {
			ff.Choices = append(ff.Choices, fmt.Sprint(c))
		}
		out = append(out, ff)
	}
	return out, needEmail
}

// fieldLabel is a force field's label without the colon Buildbot's own labels end with
// ("Branch:", "Your name:"): herald puts its own after a label, and "Branch::" is what users
// saw.
func fieldLabel(label string) string {
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(label), ":"))
}

// wsFrame is one message of Buildbot's websocket protocol: either an event {"k": key, "m":
// message} or a reply to a command {"_id": n, "code": 200, "msg": "OK"} / {"error": ...}.
type wsFrame struct {
	Key     string          `json:"k"`
	Message json.RawMessage `json:"m"`
	ID      *int            `json:"_id"`
	Code    int             `json:"code"`
	Error   string          `json:"error"`
}

// parseWSFrame decodes a frame; an event key is split into its collection, id and event,
// e.g. "builds/12/finished" → ("builds", "12", "finished").
func parseWSFrame(data []byte) (wsFrame, error) {
	var f wsFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return wsFrame{}, fmt.Errorf("%w: websocket frame: %v", ErrMalformed, err)
	}
	if f.Key == "" && f.ID == nil && f.Error == "" {
		return wsFrame{}, fmt.Errorf("%w: websocket frame with neither key nor id", ErrMalformed)
	}
	return f, nil
}

// rpcReply is a JSON-RPC answer of the REST API.
type rpcReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func parseRPCReply(data []byte) (rpcReply, error) {
	var r rpcReply
	if err := json.Unmarshal(data, &r); err != nil {
		return rpcReply{}, fmt.Errorf("%w: json-rpc reply: %v", ErrMalformed, err)
	}
	return r, nil
}

// parseForceResult reads force's result, [buildsetid, {builderid: buildrequestid}].
func parseForceResult(raw json.RawMessage) (ci.ForceResult, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) != 2 {
		return ci.ForceResult{}, fmt.Errorf("%w: force result %.200s", ErrMalformed, raw)
	}
	var bsid json.Number
	if err := json.Unmarshal(parts[0], &bsid); err != nil {
		return ci.ForceResult{}, fmt.Errorf("%w: force buildset id: %v", ErrMalformed, err)
	}
	var brids map[string]json.Number
	if err := json.Unmarshal(parts[1], &brids); err != nil {
		return ci.ForceResult{}, fmt.Errorf("%w: force request ids: %v", ErrMalformed, err)
	}
	res := ci.ForceResult{Ref: "buildset " + bsid.String()}
	for _, id := range brids {
		res.RequestIDs = append(res.RequestIDs, id.String())
	}
	return res, nil
}

// parseWorkerMessage reads the worker a websocket worker event is about.
func parseWorkerMessage(raw []byte) (apiWorker, error) {
	var w apiWorker
	if err := json.Unmarshal(raw, &w); err != nil {
		return apiWorker{}, fmt.Errorf("%w: worker message: %v", ErrMalformed, err)
	}
	if w.Name == "" {
		return apiWorker{}, fmt.Errorf("%w: worker message without a name", ErrMalformed)
	}
	return w, nil
}
