package commands

import "github.com/herald-ci/herald/ci"

// ResultLook is how every chat message shows a build's result, so a notification, /last,
// /status and /stop never disagree (a cancelled build used to be 🚫 in one and ⛔ in another).
type ResultLook struct {
	Icon string // a mark that reads at a glance in a long list
	// Words finish a sentence about the build: "linux #12 failed". Plain text.
	Words string
	// Name is the result's one-word name, for lists: "linux #12: failure". Plain text.
	Name string
}

// resultLooks is the one result table. A result added to ci gets a row here.
var resultLooks = map[ci.Result]ResultLook{
	ci.ResultNone:      {"🔄", "is running", "running"},
	ci.ResultSuccess:   {"✅", "succeeded", "success"},
	ci.ResultWarnings:  {"⚠️", "finished with warnings", "warnings"},
	ci.ResultFailure:   {"❌", "failed", "failure"},
	ci.ResultSkipped:   {"⏭", "was skipped", "skipped"},
	ci.ResultException: {"💥", "hit an exception", "exception"},
	ci.ResultRetry:     {"🔁", "will be retried", "retry"},
	ci.ResultCancelled: {"🚫", "was cancelled", "cancelled"},
}

// LookOf is r's row of the result table. A result the table does not know (a provider's
// bug, or a newer CI) is shown by its name behind a question mark rather than as running.
func LookOf(r ci.Result) ResultLook {
	if l, ok := resultLooks[r]; ok {
		return l
	}
	return ResultLook{Icon: "❔", Words: "finished (" + string(r) + ")", Name: string(r)}
}
