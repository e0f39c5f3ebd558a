package commands

import (
	"fmt"
	"strconv"
	"strings"
)

// Approve and Deny buttons under a request that an admin decides (a chat's request for
// access, a user's /iam link): "COMMAND:yes:ID" and "COMMAND:no:ID", where COMMAND is the
// one whose rule decides who may press (authz.Approve, authz.Link).
const (
	approveYes = "yes"
	approveNo  = "no"
)

// decisionButtons are the Approve and Deny buttons of request id, decided under command.
func decisionButtons(command string, id int64) [][]Button {
	return [][]Button{{
		{Text: "✅ Approve", Data: fmt.Sprintf("%s:%s:%d", command, approveYes, id)},
		{Text: "🚫 Deny", Data: fmt.Sprintf("%s:%s:%d", command, approveNo, id)},
	}}
}

// parseDecision reads a press of decisionButtons: the request and whether it is approved,
// ok false for data this herald did not make. verb is the decision as the audit log
// writes it ("approve", "deny").
func parseDecision(data string) (id int64, approve bool, verb string, ok bool) {
	parts := strings.Split(data, ":")
	if len(parts) != 3 || (parts[1] != approveYes && parts[1] != approveNo) {
		return 0, false, "", false
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return 0, false, "", false
	}
	if parts[1] == approveYes {
		return id, true, "approve", true
	}
	return id, false, "deny", true
}
