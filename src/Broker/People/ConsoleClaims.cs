using System.Security.Claims;

namespace Broker.People;

/// <summary>The claims every broker principal carries, whichever way it signed in.</summary>
public static class ConsoleClaims
{
    /// <summary>Who did it, as the audit log names them: <c>person:ann@example.com</c>, <c>operator-key:brko_Ab12</c>…</summary>
    public const string ActorClaim = "broker_actor";
    public const string OperatorClaim = "operator";
    public const string PersonClaim = "broker_person";
    /// <summary>The provider vouched for the session's email (or configuration trusts its emails).</summary>
    public const string EmailVerifiedClaim = "broker_email_verified";
    /// <summary>A group the provider put the person in at sign-in (operators may be named by group).</summary>
    public const string GroupClaim = "broker_group";

    public static bool IsOperator(this ClaimsPrincipal user) => user.HasClaim(OperatorClaim, "true");

    public static Guid? PersonId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(PersonClaim), out var id) ? id : null;

    public static string Actor(this ClaimsPrincipal user) => user.FindFirstValue(ActorClaim) ?? "anonymous";
}
