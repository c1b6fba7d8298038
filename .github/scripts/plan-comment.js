// Posts plan.md as the pull request's ONE plan comment: the hidden marker finds the comment posted
// before (by a bot), so each push edits it instead of adding one. Called from actions/github-script
// in policy-pr.yml; `portcullis plan --max-chars` has already cut plan.md to fit a comment.
module.exports = async function postPlanComment({ github, context, fs }) {
  const marker = '<!-- portcullis-plan -->';
  const plan = fs.readFileSync('plan.md', 'utf8');
  const body = `${marker}\n${plan}\n\n<sub>Updated for ${context.sha.slice(0, 7)}.</sub>`;
  const { owner, repo } = context.repo;
  const issue_number = context.payload.pull_request.number;
  const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number, per_page: 100 });
  const previous = comments.find((c) => c.user?.type === 'Bot' && c.body?.includes(marker));
  if (previous) {
    await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body });
  } else {
    await github.rest.issues.createComment({ owner, repo, issue_number, body });
  }
};
