# report-spam.sieve - bayesd: learn a message as spam when the user puts it
# into Junk.
#
# Run by Dovecot's imapsieve plugin (Pigeonhole) for every message copied or
# moved into the Junk folder (IMAP COPY/MOVE) and for every message appended
# to it (APPEND, e.g. a client that saves its own copy); see
# 90-imapsieve.conf. The message goes, on standard input, to the pipe
# helper bayes-learn-spam (looked up in sieve_pipe_bin_dir), which calls
# "bayesc -u USER learn_spam". The user name is passed as a separate
# argument, never through a shell.
#
# ":copy" keeps the implicit keep: whatever the helper does (bayesd down,
# timeout, error), the user's move itself is never cancelled. The helper
# always exits 0 and logs its failures (tag bayesd-sieve).

require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

# The IMAP user this session belongs to (the per-user statistics key).
if environment :matches "imap.user" "*" {
  set "username" "${1}";
}

# No user name known: do not train anyone's statistics by mistake.
if string :is "${username}" "" {
  stop;
}

pipe :copy "bayes-learn-spam" ["${username}"];
