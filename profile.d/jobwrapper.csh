# jobwrapper: the batch job's environment and login message, for tcsh and csh
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

# The job: an HTCondor job (its scratch dir), else a Slurm job (its id). In a Slurm
# job the cache is not looked for (it is in a dir named by uid, in a /tmp shared by
# jobs): the first login of each shell tree runs jobwrapper env, about 0.1 s.
set _jobwrapper_job = ""
set _jobwrapper_cache = ""
if ( $?_CONDOR_SCRATCH_DIR && $?_CONDOR_JOB_AD ) then
 if ( "$_CONDOR_SCRATCH_DIR:q" != "" && "$_CONDOR_JOB_AD:q" != "" ) then
  set _jobwrapper_job = "$_CONDOR_SCRATCH_DIR:q"
  set _jobwrapper_cache = "$_CONDOR_SCRATCH_DIR:q/.jobwrapper/env.csh"
 endif
endif
if ( "$_jobwrapper_job:q" == "" && $?SLURM_JOB_ID ) then
 if ( "$SLURM_JOB_ID:q" != "" ) set _jobwrapper_job = "slurm-$SLURM_JOB_ID:q"
endif
if ( "$_jobwrapper_job:q" != "" ) then
  if ( $?histchars ) then
    set _jobwrapper_histchars = "$histchars:q"
    unset histchars
  endif
  set _jobwrapper_load = 1
  if ( $?JOBWRAPPER_LOGIN_ENV ) then
    if ( "$JOBWRAPPER_LOGIN_ENV:q" == "$_jobwrapper_job:q" ) set _jobwrapper_load = 0
  endif
  if ( $_jobwrapper_load ) then
    if ( "$_jobwrapper_cache:q" != "" && -r "$_jobwrapper_cache:q" ) then
      source "$_jobwrapper_cache:q"
      setenv JOBWRAPPER_LOGIN_ENV "$_jobwrapper_job:q"
    else if ( -X jobwrapper ) then
      # First login of this job: compute and cache (warnings go to stderr).
      eval "`jobwrapper env --shell csh`"
      if ( $?JOBWRAPPER_PRIVATE_DIR ) setenv JOBWRAPPER_LOGIN_ENV "$_jobwrapper_job:q"
    endif
  endif
  if ( $?prompt && $?JOBWRAPPER_PRIVATE_DIR ) then
    set _jobwrapper_show = 1
    if ( $?JOBWRAPPER_LOGIN_MESSAGE ) then
      if ( "$JOBWRAPPER_LOGIN_MESSAGE:q" == "$_jobwrapper_job:q" ) set _jobwrapper_show = 0
    endif
    if ( $_jobwrapper_show && -r "$JOBWRAPPER_PRIVATE_DIR:q/message.csh" ) then
      source "$JOBWRAPPER_PRIVATE_DIR:q/message.csh"
      setenv JOBWRAPPER_LOGIN_MESSAGE "$_jobwrapper_job:q"
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
unset _jobwrapper_job _jobwrapper_cache
