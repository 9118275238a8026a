# jobwrapper: the HTCondor job's environment and login message, for tcsh and csh
# login shells. Install as /etc/profile.d/jobwrapper.csh (RHEL-family images read
# it from /etc/csh.cshrc) or /etc/csh/login.d/jobwrapper.csh (Debian's
# /etc/csh.login); docs/profile.d.md has the details.
#
# Once the job's cache exists ($_CONDOR_SCRATCH_DIR/.jobwrapper/env.csh and
# message.csh, written by any jobwrapper command), it forks nothing: `source`,
# `set`, `echo` and file tests are builtins. Only the first login of a job without
# a cache starts jobwrapper, if it is installed (-X: on the path).
#
# csh expands a variable that is not set into an error even on the untaken side of
# `&&`, so each $?NAME test gets its own `if`. history substitution (`!`) applies
# to sourced files in an interactive tcsh; the cache escapes `!` for the default
# histchars, so a user's own histchars is set aside while it is sourced.

if ( $?_CONDOR_SCRATCH_DIR && $?_CONDOR_JOB_AD ) then
 if ( "$_CONDOR_SCRATCH_DIR:q" != "" && "$_CONDOR_JOB_AD:q" != "" ) then
  if ( $?histchars ) then
    set _jobwrapper_histchars = "$histchars:q"
    unset histchars
  endif
  set _jobwrapper_load = 1
  if ( $?JOBWRAPPER_LOGIN_ENV ) then
    if ( "$JOBWRAPPER_LOGIN_ENV:q" == "$_CONDOR_SCRATCH_DIR:q" ) set _jobwrapper_load = 0
  endif
  if ( $_jobwrapper_load ) then
    if ( -r "$_CONDOR_SCRATCH_DIR:q/.jobwrapper/env.csh" ) then
      source "$_CONDOR_SCRATCH_DIR:q/.jobwrapper/env.csh"
      setenv JOBWRAPPER_LOGIN_ENV "$_CONDOR_SCRATCH_DIR:q"
    else if ( -X jobwrapper ) then
      # First login of this job: compute and cache (warnings go to stderr).
      eval "`jobwrapper env --shell csh`"
      if ( $?JOBWRAPPER_PRIVATE_DIR ) setenv JOBWRAPPER_LOGIN_ENV "$_CONDOR_SCRATCH_DIR:q"
    endif
  endif
  if ( $?prompt && $?JOBWRAPPER_PRIVATE_DIR ) then
    set _jobwrapper_show = 1
    if ( $?JOBWRAPPER_LOGIN_MESSAGE ) then
      if ( "$JOBWRAPPER_LOGIN_MESSAGE:q" == "$_CONDOR_SCRATCH_DIR:q" ) set _jobwrapper_show = 0
    endif
    if ( $_jobwrapper_show && -r "$JOBWRAPPER_PRIVATE_DIR:q/message.csh" ) then
      source "$JOBWRAPPER_PRIVATE_DIR:q/message.csh"
      setenv JOBWRAPPER_LOGIN_MESSAGE "$_CONDOR_SCRATCH_DIR:q"
    endif
  endif
  if ( $?prompt && $?JOBWRAPPER_CONTAINER ) then
    # A plain name only: the label goes into the prompt.
    if ( "$JOBWRAPPER_CONTAINER:q" != "" && "$JOBWRAPPER_CONTAINER:q" !~ *[^A-Za-z0-9._+-]* ) then
      set prompt = "%n@%m(${JOBWRAPPER_CONTAINER}) %~ %# "
    endif
  endif
  if ( $?_jobwrapper_histchars ) then
    set histchars = "$_jobwrapper_histchars:q"
  endif
  if ( $?prompt && $?JOBWRAPPER_LOGIN_CSHRC ) then
    # The user's own rc file (site config login.csh_rc_pattern), named by jobwrapper,
    # never eval'd: sourced only if it is a regular file of the user's, and neither it
    # nor its directory (the user's or root's) is writable by group or others. File
    # tests only (-o owner, -U owner's uid, -P22 group/other write bits): no process.
    set _jobwrapper_rc = "$JOBWRAPPER_LOGIN_CSHRC:q"
    set _jobwrapper_safe = 0
    if ( "$_jobwrapper_rc:q" =~ /* ) then
     if ( -f "$_jobwrapper_rc:q" ) then
      set _jobwrapper_dir = "$_jobwrapper_rc:h"
      if ( "$_jobwrapper_dir:q" == "" ) set _jobwrapper_dir = /
      if ( -o "$_jobwrapper_rc:q" && -d "$_jobwrapper_dir:q" ) then
        if ( -P22 "$_jobwrapper_rc:q" == 0 && -P22 "$_jobwrapper_dir:q" == 0 ) then
          if ( -o "$_jobwrapper_dir:q" ) then
            set _jobwrapper_safe = 1
          else if ( -U "$_jobwrapper_dir:q" == 0 ) then
            set _jobwrapper_safe = 1
          endif
        endif
      endif
      if ( $_jobwrapper_safe ) then
        source "$_jobwrapper_rc:q"
      else
        echo "jobwrapper: ${_jobwrapper_rc:q} is not sourced: it must be your own file, and neither it nor its directory writable by group or others (chmod go-w)" > /dev/stderr
      endif
     endif
    endif
  endif
  unset _jobwrapper_histchars _jobwrapper_load _jobwrapper_show _jobwrapper_rc _jobwrapper_dir
  unset _jobwrapper_safe
 endif
endif
