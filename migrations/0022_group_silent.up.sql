-- Whether a group's message went out silent. Telegram never notifies of an edit, so a loud
-- row (a problem, a recovery in a chat that hears only those) must not join a silent
-- message by editing it: it goes as a new message, with its sound. Groups stored before
-- this migration count as loud, so rows keep joining them as they did.
ALTER TABLE message_groups ADD COLUMN silent boolean NOT NULL DEFAULT false;

-- The message a group's message replies to (0: none). A recovery answering that same message
-- (its problem was grouped with the others') may join by an edit; one answering another
-- message goes as a new message, a reply to its own problem.
ALTER TABLE message_groups ADD COLUMN reply_to integer NOT NULL DEFAULT 0;
