using VehicleCommand.Crypto;
using VehicleCommand.Messages.UniversalMessage;

namespace Broker.Commands.Protocol;

/// <summary>
/// What an authenticated handshake gives the broker for one domain of one car (protocol.md, "Authorizing commands"):
/// the shared key, the car's clock as <c>(Epoch, ClockTime)</c>, and the anti-replay counter the car last reported.
/// Phase 1 keeps it a plain value: advancing the counter, tracking the car's clock against the broker's and sharing
/// the session across replicas are phase 2's.
/// </summary>
/// <param name="Domain">The car subsystem the session belongs to; each has its own key and clock.</param>
/// <param name="Vin">The VIN every signature is personalised with.</param>
/// <param name="Key">K, agreed with this domain's public key.</param>
/// <param name="Epoch">The 16 random bytes that name the domain's current clock (new at each boot).</param>
/// <param name="Counter">The counter from the session info; a command uses a higher one.</param>
/// <param name="ClockTime">Seconds since the epoch began, when the car sent the session info.</param>
public sealed record VehicleSession(Domain Domain, string Vin, SessionKey Key, byte[] Epoch, uint Counter, uint ClockTime);
