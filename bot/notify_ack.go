package bot

import (
	"slices"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

// withAck adds the Ack button under a problem message the quiet stage marked (a chat with
// reminders on), after whatever keyboard the message has (the Re-run button stays): the
// button names the build that broke the builder, which is what names the breakage.
func withAck(kb [][]commands.Button, d Draft, ev ci.Event) [][]commands.Button {
	if !d.AckButton || ev.Build == nil {
		return kb
	}
	row := []commands.Button{{Text: commands.AckLabel, Data: commands.AckData(ev.Conn, ev.Build.ID)}}
	return append(slices.Clip(kb), row)
}
