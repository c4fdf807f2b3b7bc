# Sourced by the footprint benchmarks: `ten_projects URL TOKEN DIR [JSON]` creates projects
# p1..p10 through the API at URL, each on a real one-commit repository under DIR, with JSON
# (e.g. `,"poll_interval_secs":60`) added to each project.
ten_projects() {
  local url=$1 token=$2 dir=$3 extra=${4:-}
  for i in $(seq 1 10); do
    local repo="$dir/p$i"
    git init -q -b main "$repo"
    echo "project $i" >"$repo/README"
    git -C "$repo" -c user.email=b@example.com -c user.name=bench add -A
    git -C "$repo" -c user.email=b@example.com -c user.name=bench commit -qm init
    curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      -d "{\"name\":\"p$i\",\"repo_url\":\"$repo\",\"forge\":\"git\"$extra}" "$url/api/v1/projects"
  done
}
