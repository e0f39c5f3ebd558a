package ci

// UserError is herald's one user-facing error: its message is written for a chat user, e.g.
// "builder docs is offline" or "this CI cannot stop builds", and is safe to show as it is.
// Msg is plain text, never markup: a provider does not know how a message is shown, and a
// message that names what a user typed ("Unknown event <b>.") stays true to it. Whoever shows
// it escapes it exactly once for its medium (the Telegram transport: commands.Escape). Any
// other error is "internal error" in a chat, and logged.
type UserError struct {
	Msg string
	Err error // the cause, for logs; may be nil
}

func (e *UserError) Error() string { return e.Msg }
func (e *UserError) Unwrap() error { return e.Err }

// Userf makes a UserError with message msg (plain text) and cause err (may be nil).
func Userf(err error, msg string) error { return &UserError{Msg: msg, Err: err} }
