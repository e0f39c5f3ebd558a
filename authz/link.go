package authz

// Link is the command that confirms people's links (/iam): whoever may run it decides, with
// the Approve and Deny buttons under a request (or /link, which lists those waiting), that
// a CI identity is a Telegram user's. It is dangerous, denied unless a rule allows it: a
// link makes herald name someone as the author of a breaking change, so it is never taken
// on the user's word alone.
const Link = "link"

// MayLink reports whether user may confirm links. Unlike approve, being in the admin chat
// is not enough: the rules name who may.
func (m *Matrix) MayLink(user int64) bool { return m.Decide(user, Link, "").Allowed }

// Linkers are the users, named by id in the rules, who may confirm links: the private chats
// a request goes to when there is no admin chat. "everyone" names nobody here.
func (m *Matrix) Linkers() []int64 { return m.namedUsers(Link) }

// AnyoneMayLink reports whether some user may confirm links: one a rule names, or everyone.
// Without one a request could never be decided, so /iam files none.
func (m *Matrix) AnyoneMayLink() bool { return m.anyoneMay(Link) }
