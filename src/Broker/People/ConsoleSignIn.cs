using System.Security.Claims;
using Broker.Admin;
using Broker.Data;
using Broker.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.People;

/// <summary>
/// Hooks of the console's OpenID Connect scheme. On sign-in: records the person (issuer + subject),
/// binds the invitations waiting for their verified email, decides whether configuration names them
/// an operator, and replaces the provider's claims with the broker's own small set. Only the
/// id_token is kept (for RP-initiated sign-out); access and refresh tokens are never stored.
/// </summary>
public sealed class ConsoleSignIn(BrokerDbContext db, AuditLog audit, IOptions<ConsoleOptions> options, TimeProvider time, ILogger<ConsoleSignIn> logger)
    : OpenIdConnectEvents
{
    private readonly ConsoleOptions _console = options.Value;

    public override async Task TokenValidated(TokenValidatedContext context)
    {
        var provided = context.Principal!;
        // What the provider sends is cleaned of control characters: a NUL cannot be stored, a CR/LF would split the audit line.
        var issuer = TextInput.Clean(context.SecurityToken.Issuer)!;
        var subject = TextInput.Clean(provided.FindFirstValue("sub")) ?? throw new InvalidOperationException("The provider's id_token has no subject.");
        var email = TextInput.Clean(provided.FindFirstValue("email"))?.Trim().ToLowerInvariant();
        var emailTrusted = email is not null && (_console.Oidc.TrustUnverifiedEmail || provided.HasClaim("email_verified", "true"));
        var name = TextInput.Clean(provided.FindFirstValue("name")) ?? email ?? subject;
        var groups = provided.FindAll(_console.Operators.GroupClaim).Select(c => TextInput.Clean(c.Value)!).Distinct().ToList();
        var isOperator = NamesOperator(_console.Operators, subject, emailTrusted ? email : null, groups);

        var now = time.GetUtcNow();
        var person = await db.People.SingleOrDefaultAsync(p => p.Issuer == issuer && p.Subject == subject, context.HttpContext.RequestAborted);
        if (person is null)
        {
            person = new Person { Issuer = issuer, Subject = subject, CreatedAt = now };
            db.People.Add(person);
        }
        person.Email = email;
        person.EmailVerified = emailTrusted;
        person.Name = name;
        person.LastSignInAt = now;
        if (emailTrusted)
        {
            var invitations = await db.Memberships.Where(m => m.Email == email && m.PersonId == null).ToListAsync(context.HttpContext.RequestAborted);
            foreach (var invitation in invitations)
            {
                invitation.PersonId = person.Id;
                audit.Add("membership.accepted", invitation.TenantId, detail: $"email={email}; role={invitation.Role.Name()}", actor: Actor(email, subject));
            }
        }
        audit.Add("person.signed_in", detail: isOperator ? "operator" : null, actor: Actor(email, subject));
        await db.SaveChangesAsync(context.HttpContext.RequestAborted);

        // The facts operator status rests on travel in the (server-side) session, so it is re-checked at every request.
        var claims = new List<Claim>
        {
            new("sub", subject), new("name", name), new(ConsoleClaims.PersonClaim, person.Id.ToString()),
            new(ConsoleClaims.ActorClaim, Actor(email, subject)),
        };
        if (email is not null)
        {
            claims.Add(new Claim("email", email));
        }
        if (emailTrusted)
        {
            claims.Add(new Claim(ConsoleClaims.EmailVerifiedClaim, "true"));
        }
        claims.AddRange(groups.Select(g => new Claim(ConsoleClaims.GroupClaim, g)));
        if (isOperator)
        {
            claims.Add(new Claim(ConsoleClaims.OperatorClaim, "true"));
        }
        context.Principal = new ClaimsPrincipal(new ClaimsIdentity(claims, ConsoleAuthentication.CookieScheme, "name", "role"));
        var properties = context.Properties!;
        properties.StoreTokens([new AuthenticationToken { Name = "id_token", Value = context.SecurityToken.RawData }]);
        properties.IsPersistent = false;
        logger.LogInformation("Console sign-in of person {PersonId} (operator: {IsOperator})", person.Id, isOperator);
    }

    public override Task RedirectToIdentityProviderForSignOut(RedirectContext context)
    {
        // A provider without an end_session_endpoint: the local sign-out is all there is.
        if (string.IsNullOrEmpty(context.ProtocolMessage.IssuerAddress))
        {
            context.Response.Redirect(context.Properties.RedirectUri ?? "/console/signed-out");
            context.HandleResponse();
        }
        return Task.CompletedTask;
    }

    public override Task RemoteFailure(RemoteFailureContext context)
    {
        logger.LogWarning("Console sign-in failed: {Error}", context.Failure?.Message);
        context.Response.Redirect("/console/signin?failed=1");
        context.HandleResponse();
        return Task.CompletedTask;
    }

    /// <summary>Whether configuration names this person an operator: by subject, by a verified email, or by a group.</summary>
    public static bool NamesOperator(OperatorNames names, string subject, string? trustedEmail, IEnumerable<string> groups) =>
        names.Subjects.Contains(subject, StringComparer.Ordinal)
        || (trustedEmail is not null && names.Emails.Contains(trustedEmail, StringComparer.OrdinalIgnoreCase))
        || groups.Intersect(names.Groups, StringComparer.Ordinal).Any();

    /// <summary>The same question for a signed-in console principal, from the facts its session kept.</summary>
    public static bool NamesOperator(OperatorNames names, ClaimsPrincipal user) =>
        NamesOperator(names, user.FindFirstValue("sub") ?? "", user.HasClaim(ConsoleClaims.EmailVerifiedClaim, "true") ? user.FindFirstValue("email") : null,
            user.FindAll(ConsoleClaims.GroupClaim).Select(c => c.Value));

    private static string Actor(string? email, string subject) => $"person:{email ?? subject}";
}
