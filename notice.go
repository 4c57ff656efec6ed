package steward

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Notice is a message to one person, kept in Steward's inbox until a mailer
// (a later release) sends it. Jobs write notices; each says which job wrote
// it, so that a job worked twice delivers once.
type Notice struct {
	ID         int64      `json:"id"`
	PersonID   int64      `json:"person_id"`
	Person     string     `json:"person,omitempty"` // filled by the store: the person's e-mail address
	Kind       string     `json:"kind"`             // the kind of the job that wrote it, e.g. "owner_assigned"
	Subject    string     `json:"subject"`
	Body       string     `json:"body"`
	ObjectType string     `json:"object_type"` // what it is about, e.g. "identity"
	ObjectID   string     `json:"object_id"`
	JobID      int64      `json:"job_id"`
	CreatedAt  time.Time  `json:"created_at"`
	SentAt     *time.Time `json:"sent_at,omitempty"` // nil until a mailer has sent it
}

// Validate returns EINVALID describing the first problem with n.
func (n *Notice) Validate() error {
	switch {
	case n.PersonID <= 0:
		return Errorf(EINVALID, "a notice needs the person it is for.")
	case n.Kind == "" || n.ObjectType == "" || n.ObjectID == "":
		return Errorf(EINVALID, "a notice needs its kind and the object it is about.")
	}
	if err := checkText("notice subject", n.Subject, 256, true); err != nil {
		return err
	}
	return checkText("notice body", n.Body, 4096, true)
}

// NoticeDelivered is the payload of ActionNoticeDelivered, which each notice
// written to the inbox records (its object: the notice).
type NoticeDelivered struct {
	PersonID   int64  `json:"person_id"`
	Kind       string `json:"kind"`
	Subject    string `json:"subject"`
	ObjectType string `json:"object_type"`
	ObjectID   string `json:"object_id"`
	JobID      int64  `json:"job_id"`
}

// NoticeFilter selects notices. Zero fields do not filter.
type NoticeFilter struct {
	PersonID int64
	Unsent   bool // only notices no mailer has sent yet
	Newest   bool // newest first (a person's page); default oldest first (a mailer's order)
	ListOptions
}

// Inbox keeps the notices jobs write for people.
type Inbox interface {
	// DeliverNotices writes the notices of job jobID, each with its audit
	// event, in one transaction, once: a notice that job wrote already for
	// the same person is not written again, so that a job worked twice
	// (retried after a crash) delivers once. It returns how many it wrote.
	// EINVALID for a bad notice; ENOTFOUND for an unknown person.
	DeliverNotices(ctx context.Context, jobID int64, notices []Notice) (int, error)
	// Notices lists notices, oldest first unless f.Newest. EINVALID for a
	// bad cursor.
	Notices(ctx context.Context, f NoticeFilter) (*Page[Notice], error)
}

// OwnerAssigned is the job that setting an identity's owner queues, in the
// same transaction as the change: it tells the new owner that the identity
// is now theirs, and the previous owner that it no longer is. It carries the
// names as they were at the change, which is what the notices describe.
type OwnerAssigned struct {
	IdentityID        int64     `json:"identity_id"`
	IdentityName      string    `json:"identity_name"`
	SystemName        string    `json:"system_name"`
	OwnerID           *int64    `json:"owner_id,omitempty"`
	OwnerName         string    `json:"owner_name,omitempty"`
	PreviousOwnerID   *int64    `json:"previous_owner_id,omitempty"`
	PreviousOwnerName string    `json:"previous_owner_name,omitempty"`
	By                string    `json:"by"` // the actor who set the owner
	At                time.Time `json:"at"`
}

// KindOwnerAssigned is OwnerAssigned's job kind.
const KindOwnerAssigned = "owner_assigned"

// Kind implements JobArgs.
func (OwnerAssigned) Kind() string { return KindOwnerAssigned }

// OwnerChangeConcernsPeople reports whether an explicit owner change from
// previous to owner has anybody to tell: it does when the owning person
// changed and there is a person on either side. A change of team alone, or
// an assignment that repeats the owner, tells nobody.
func OwnerChangeConcernsPeople(previous, owner *int64) bool {
	switch {
	case previous == nil && owner == nil:
		return false
	case previous == nil || owner == nil:
		return true
	}
	return *previous != *owner
}

// Notices returns what each person the change concerns is told: the new
// owner first, then the previous one.
func (j OwnerAssigned) Notices() []Notice {
	what := fmt.Sprintf("%s on %s", j.IdentityName, j.SystemName)
	base := Notice{Kind: j.Kind(), ObjectType: "identity", ObjectID: strconv.FormatInt(j.IdentityID, 10)}
	var out []Notice
	if j.OwnerID != nil {
		n := base
		n.PersonID = *j.OwnerID
		n.Subject = "You now own " + what
		n.Body = fmt.Sprintf("%s made you the owner of the identity %s on %s at %s. "+
			"You answer for what it can do: check its credentials and access, and attest it or hand it on.",
			j.By, j.IdentityName, j.SystemName, j.At.UTC().Format(time.RFC3339))
		if j.PreviousOwnerName != "" {
			n.Body += fmt.Sprintf(" Its previous owner was %s.", j.PreviousOwnerName)
		}
		out = append(out, n)
	}
	if j.PreviousOwnerID != nil && (j.OwnerID == nil || *j.OwnerID != *j.PreviousOwnerID) {
		n := base
		n.PersonID = *j.PreviousOwnerID
		n.Subject = "You no longer own " + what
		next := "nobody: it is an ownership gap until someone is assigned"
		if j.OwnerName != "" {
			next = j.OwnerName
		}
		n.Body = fmt.Sprintf("%s changed the owner of the identity %s on %s at %s. Its owner is now %s.",
			j.By, j.IdentityName, j.SystemName, j.At.UTC().Format(time.RFC3339), next)
		out = append(out, n)
	}
	return out
}
