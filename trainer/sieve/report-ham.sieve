# report-ham.sieve - bayesd: relearn a message as ham when the user takes it
# out of Junk.
#
# Run by Dovecot's imapsieve plugin (Pigeonhole) for every message copied or
# moved from the Junk folder into any other folder; see 90-imapsieve.conf.
# A message moved from Junk to Trash is not a "this is not spam" report
# (the user is just throwing spam away), so nothing is learned then; a copy
# from Junk into Junk itself is ignored as well. Otherwise the message goes,
# on standard input, to the pipe helper bayes-learn-ham (in
# sieve_pipe_bin_dir), which calls "bayesc -u USER learn_ham"; bayesd then
# relearns it: the earlier spam counts move to ham, they are not doubled.
#
# ":copy" keeps the implicit keep: the user's move is never cancelled,
# whatever the helper does. The helper always exits 0 and logs its failures
# (tag bayesd-sieve).

require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

# imap.mailbox is the folder the message is in now: the destination.
if environment :matches "imap.mailbox" "*" {
  set "mailbox" "${1}";
}

# Thrown away, not rescued: the common Trash names, top level or under INBOX
# with either separator. (Pigeonhole 0.5 in Dovecot 2.3 has no special-use
# test; add your own name here if your Trash is called otherwise.)
if string :is "${mailbox}" ["Trash", "INBOX.Trash", "INBOX/Trash",
                            "Deleted Items", "Deleted Messages",
                            "INBOX.Deleted Items", "INBOX.Deleted Messages"] {
  stop;
}

# Still junk: copied within Junk.
if string :is "${mailbox}" ["Junk", "INBOX.Junk", "INBOX/Junk"] {
  stop;
}

# The IMAP user this session belongs to (the per-user statistics key).
if environment :matches "imap.user" "*" {
  set "username" "${1}";
}

# No user name known: do not train anyone's statistics by mistake.
if string :is "${username}" "" {
  stop;
}

pipe :copy "bayes-learn-ham" ["${username}"];
