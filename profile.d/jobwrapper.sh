# jobwrapper: the batch job's environment and login message, for sh-family
# login shells (bash, dash, zsh). Install as /etc/profile.d/jobwrapper.sh in the
# container image; docs/profile.d.md says how, and what zsh needs.
#
# This file is sourced, not run. It must never fail or end the login, also under
# `set -e` and `set -u`, so every test is an `if`, every expansion has a default,
# and its own variables (_jobwrapper_*) are unset at the end.
#
# Once the job's cache exists ($_CONDOR_SCRATCH_DIR/.jobwrapper/env.sh, written by
# any jobwrapper command), it forks nothing: `.`, `[`, `printf` and `command -v`
# are builtins in bash, dash and zsh. Only the first login of a job without a
# cache starts jobwrapper, if it is installed; where the site names users' rc files
# (login.rc_pattern), the first login that finds the user's file runs one `stat`.
#
# Markers (exported, so nested shells skip the work): JOBWRAPPER_LOGIN_ENV and
# JOBWRAPPER_LOGIN_MESSAGE hold the scratch dir (Slurm: slurm-JOBID) of the job they
# were done for.

# The job: an HTCondor job (its scratch dir), else a Slurm job (its id; the cache is in
# the private dir jobwrapper makes per user and job in the node's temp dir, used only
# when that dir and the file are the user's own: /tmp is shared). A site whose
# [slurm] temp_variables differ only misses the cache: jobwrapper env then runs once.
_jobwrapper_job=
if [ -n "${_CONDOR_SCRATCH_DIR-}" ] && [ -n "${_CONDOR_JOB_AD-}" ]; then
  _jobwrapper_job=$_CONDOR_SCRATCH_DIR
  _jobwrapper_cache="$_CONDOR_SCRATCH_DIR/.jobwrapper/env.sh"
elif [ -n "${SLURM_JOB_ID-}" ]; then
  _jobwrapper_job=slurm-$SLURM_JOB_ID
  # jobwrapper-UID-JOBID: a glob, as dash has no $UID; only the user's own dir counts.
  _jobwrapper_cache=/nonexistent
  for _jobwrapper_dir in "${SLURM_TMPDIR:-${TMPDIR:-/tmp}}"/jobwrapper-*-"$SLURM_JOB_ID"; do
    if [ -O "$_jobwrapper_dir" ] && [ -O "$_jobwrapper_dir/env.sh" ]; then
      _jobwrapper_cache="$_jobwrapper_dir/env.sh"
    fi
  done
fi
if [ -n "$_jobwrapper_job" ]; then
  if [ "${JOBWRAPPER_LOGIN_ENV-}" != "$_jobwrapper_job" ]; then
    if [ -r "$_jobwrapper_cache" ]; then
      . "$_jobwrapper_cache"
      JOBWRAPPER_LOGIN_ENV=$_jobwrapper_job
      export JOBWRAPPER_LOGIN_ENV
    elif command -v jobwrapper >/dev/null 2>&1; then
      # First login of this job: compute and cache (warnings go to stderr).
      _jobwrapper_env=$(jobwrapper env --shell sh) || _jobwrapper_env=
      if [ -n "$_jobwrapper_env" ]; then
        eval "$_jobwrapper_env"
        JOBWRAPPER_LOGIN_ENV=$_jobwrapper_job
        export JOBWRAPPER_LOGIN_ENV
      fi
    fi
  fi
  case $- in
    *i*)
      # message.sh is one printf builtin (faster than a read loop over message.txt).
      _jobwrapper_message="${JOBWRAPPER_PRIVATE_DIR-}/message.sh"
      if [ "${JOBWRAPPER_LOGIN_MESSAGE-}" != "$_jobwrapper_job" ] \
          && [ -n "${JOBWRAPPER_PRIVATE_DIR-}" ] && [ -r "$_jobwrapper_message" ]; then
        . "$_jobwrapper_message"
        JOBWRAPPER_LOGIN_MESSAGE=$_jobwrapper_job
        export JOBWRAPPER_LOGIN_MESSAGE
      fi
      # The label is already a plain name (context.py); checked again here because
      # bash and zsh may expand $(...) in a prompt.
      _jobwrapper_label=${JOBWRAPPER_CONTAINER-}
      case $_jobwrapper_label in
        '' | *[!A-Za-z0-9._+-]*) ;;
        *)
          if [ -n "${BASH_VERSION-}" ]; then
            PS1='\u@\h('"$_jobwrapper_label"') \w \$ '
          elif [ -n "${ZSH_VERSION-}" ]; then
            PROMPT='%n@%m('"$_jobwrapper_label"') %~ %(!.#.$) '
          else
            PS1="($_jobwrapper_label) \$ "
          fi
          ;;
      esac
      # The user's own rc file (site config login.rc_pattern, e.g. ~/.bashrc.d/Rocky9),
      # named by jobwrapper from the job ad's user and container, never eval'd. Sourced
      # only if it is a regular file of the user's, and neither it nor its directory
      # (the user's or root's) is writable by group or others. sh cannot read a mode
      # without a process, so one `stat` checks both, and rc-checked in the private
      # dir remembers the file it passed: while that file is the user's and not
      # modified since, later logins of the job start nothing. Someone else who could
      # write it can only change it with a newer mtime, which brings the check back.
      # An absolute path only: `.` searches PATH for a name without a slash.
      case ${JOBWRAPPER_LOGIN_RC-} in
        /*) _jobwrapper_rc=$JOBWRAPPER_LOGIN_RC ;;
        *) _jobwrapper_rc= ;;
      esac
      if [ -n "$_jobwrapper_rc" ] && [ -f "$_jobwrapper_rc" ]; then
        _jobwrapper_safe=
        _jobwrapper_stamp=${JOBWRAPPER_PRIVATE_DIR:-/nonexistent}/rc-checked
        if [ -O "$_jobwrapper_rc" ] && [ -f "$_jobwrapper_stamp" ] \
            && [ ! "$_jobwrapper_rc" -nt "$_jobwrapper_stamp" ]; then
          _jobwrapper_checked=
          IFS= read -r _jobwrapper_checked <"$_jobwrapper_stamp" || :
          if [ "$_jobwrapper_checked" = "$_jobwrapper_rc" ]; then
            _jobwrapper_safe=1
          fi
        fi
        _jobwrapper_modes=
        if [ -z "$_jobwrapper_safe" ]; then
          _jobwrapper_dir=${_jobwrapper_rc%/*}
          _jobwrapper_dir=${_jobwrapper_dir:-/}
          _jobwrapper_modes=$(stat -L -c '%u %A' "$_jobwrapper_rc" "$_jobwrapper_dir" \
            2>/dev/null) || _jobwrapper_modes=
          _jobwrapper_nl='
'
          # "UID -rw-r--r--" for the file, "UID drwxr-xr-x" for its directory: no w
          # for group (6th character) or others (9th).
          case $_jobwrapper_modes in
            *' -'????-??-?"$_jobwrapper_nl"*' d'????-??-?)
              if [ -O "$_jobwrapper_rc" ]; then
                if [ -O "$_jobwrapper_dir" ]; then
                  _jobwrapper_safe=1
                else
                  case $_jobwrapper_modes in *"$_jobwrapper_nl"'0 d'*) _jobwrapper_safe=1 ;; esac
                fi
              fi
              ;;
          esac
          if [ -n "$_jobwrapper_safe" ] && [ -d "${JOBWRAPPER_PRIVATE_DIR:-/nonexistent}" ]; then
            printf '%s\n' "$_jobwrapper_rc" 2>/dev/null >"$_jobwrapper_stamp" || :
          fi
        fi
        if [ -n "$_jobwrapper_safe" ]; then
          . "$_jobwrapper_rc"
        elif [ -z "$_jobwrapper_modes" ]; then
          printf 'jobwrapper: %s is not sourced: its mode cannot be checked (no stat)\n' \
            "$_jobwrapper_rc" >&2
        else
          printf 'jobwrapper: %s is not sourced: it must be your own file, and neither it nor its directory writable by group or others (chmod go-w)\n' \
            "$_jobwrapper_rc" >&2
        fi
      fi
      ;;
  esac
  unset _jobwrapper_job _jobwrapper_cache _jobwrapper_env _jobwrapper_message _jobwrapper_label \
    _jobwrapper_rc _jobwrapper_dir _jobwrapper_modes _jobwrapper_safe _jobwrapper_nl \
    _jobwrapper_stamp _jobwrapper_checked
fi
