package commands

import (
	"encoding/json"
	"fmt"
	"strings"
)

// btn is what a button of these commands carries. Its Data is "<command>:<json>": the
// registry routes a press by the prefix, and the transport keeps Data server-side, so names
// of any length and with any characters fit.
type btn struct {
	Act     string `json:"a"`           // what the press does, per command
	Conn    string `json:"c,omitempty"` // CI connection
	Sched   string `json:"s,omitempty"` // force scheduler
	Builder string `json:"b,omitempty"`
	Build   string `json:"id,omitempty"` // the provider's build id
	Field   string `json:"f,omitempty"`
	Value   string `json:"v,omitempty"`
	Conv    int64  `json:"k,omitempty"` // the conversation the keyboard belongs to
	User    int64  `json:"u,omitempty"` // who the conversation belongs to
	Page    int    `json:"p,omitempty"` // the page of a long keyboard to show (see paginate)
}

func (b btn) data(command string) string {
	j, err := json.Marshal(b)
	if err != nil {
		// A struct of strings and ints always marshals.
		panic(fmt.Sprintf("commands: marshal button: %v", err))
	}
	return command + ":" + string(j)
}

// parseBtn reads a pressed button's data back. Presses come from outside (a stale or forged
// payload), so anything unexpected is an error, never a panic.
func parseBtn(command, data string) (btn, error) {
	rest, ok := strings.CutPrefix(data, command+":")
	if !ok {
		return btn{}, fmt.Errorf("commands: button data %.40q is not for /%s", data, command)
	}
	var b btn
	if err := json.Unmarshal([]byte(rest), &b); err != nil {
		return btn{}, fmt.Errorf("commands: button data %.40q: %w", data, err)
	}
	if b.Act == "" {
		return btn{}, fmt.Errorf("commands: button data %.40q has no action", data)
	}
	return b, nil
}

// StopData is the Data of a button that stops build buildID on CI connection conn: it opens
// the /stop conversation (reason, then confirm) for whoever presses it, after the authz check.
// The notifier puts it on the "build started" message of a forced build.
func StopData(conn, buildID string) string {
	return btn{Act: "pick", Conn: conn, Build: buildID}.data("stop")
}

// RerunData is the Data of the "Re-run failed jobs" button the notifier puts under a
// failure of build buildID on CI connection conn (a ci.Rebuilder). It is a /force button:
// pressing it needs the force right on the build's builder (see rerun.go).
func RerunData(conn, buildID string) string {
	return btn{Act: "rerun", Conn: conn, Build: buildID}.data("force")
}

// staleButton answers a press on a keyboard whose conversation has ended or expired: it says
// so and removes the keyboard.
func staleButton(req Request, command string) Response {
	return Response{
		Notice:  "This keyboard has expired.",
		Replies: []Reply{{Edit: true, Text: fmt.Sprintf("This has expired. Send /%s to start again.", command)}},
	}
}

// badButton answers a press whose payload cannot be read.
func badButton() Response {
	return Response{Notice: "This button no longer works."}
}
