// The README's "Protect your API", as it is printed there (test/package/package.test.ts runs
// it from an installed tarball): the notes API of `baton policy init` accepts only a valid
// Baton access token with `notes.read`. Serve it: createServer(getNotes).listen(3000).
import { createVerifier } from "baton/verify";

const verifier = createVerifier({
  issuer: "http://127.0.0.1:8787", // the broker's --issuer
  audience: "https://notes.example.com", // this API's `resource` in the policy
  introspection: { clientId: "notes-api", clientSecret: process.env.NOTES_API_SECRET },
});

export const getNotes = (req, res) =>
  verifier.verify(req.headers.authorization, { scopes: ["notes.read"] }).then(
    (who) => res.end(`${who.subject}'s notes, read by ${who.actor}\n`),
    (refusal) => res.writeHead(refusal.status, refusal.toResponse().headers).end(),
  );
