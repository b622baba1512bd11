using System.Security.Claims;
using Broker.Admin;
using Broker.Data;
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
        var issuer = context.SecurityToken.Issuer;
        var subject = provided.FindFirstValue("sub") ?? throw new InvalidOperationException("The provider's id_token has no subject.");
        var email = provided.FindFirstValue("email")?.Trim().ToLowerInvariant();
        var emailTrusted = email is not null && (_console.Oidc.TrustUnverifiedEmail || provided.HasClaim("email_verified", "true"));
        var name = provided.FindFirstValue("name") ?? email ?? subject;
        var isOperator = IsOperator(provided, subject, emailTrusted ? email : null);

        var now = time.GetUtcNow();
        var person = await db.People.SingleOrDefaultAsync(p => p.Issuer == issuer && p.Subject == subject, context.HttpContext.RequestAborted);
        if (person is null)
        {
            person = new Person { Issuer = issuer, Subject = subject, CreatedAt = now };
            db.People.Add(person);
        }
        person.Email = email;
        person.Name = name;
        person.LastSignInAt = now;
        if (emailTrusted)
        {
            var invitations = await db.Memberships.Where(m => m.Email == email && m.PersonId == null).ToListAsync(context.HttpContext.RequestAborted);
            foreach (var invitation in invitations)
            {
                invitation.PersonId = person.Id;
                audit.Add("membership.accepted", invitation.TenantId, detail: $"email={email}; role={invitation.Role}", actor: Actor(email, subject));
            }
        }
        audit.Add("person.signed_in", detail: isOperator ? "operator" : null, actor: Actor(email, subject));
        await db.SaveChangesAsync(context.HttpContext.RequestAborted);

        var claims = new List<Claim>
        {
            new("sub", subject), new("name", name), new(ConsoleClaims.PersonClaim, person.Id.ToString()),
            new(ConsoleClaims.ActorClaim, Actor(email, subject)),
        };
        if (email is not null)
        {
            claims.Add(new Claim("email", email));
        }
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

    private bool IsOperator(ClaimsPrincipal provided, string subject, string? trustedEmail)
    {
        var names = _console.Operators;
        var groups = provided.FindAll(names.GroupClaim).Select(c => c.Value);
        return names.Subjects.Contains(subject, StringComparer.Ordinal)
            || (trustedEmail is not null && names.Emails.Contains(trustedEmail, StringComparer.OrdinalIgnoreCase))
            || groups.Intersect(names.Groups, StringComparer.Ordinal).Any();
    }

    private static string Actor(string? email, string subject) => $"person:{email ?? subject}";
}
