// Price notes of the PoE public stash stream. A seller prices an item with a
// note on the item ("~price 5 chaos", "~b/o 1/2 divine") or prices a whole
// tab by naming it so; an item's own note wins over its tab's name.
//
// Only the two fixed-price markers count: "~price" and "~b/o" (buyout).
// "~c/o" (current offer) is an invitation to bid, not a price, and is
// ignored like any other text. Amounts are decimals ("1.5") or fractions
// ("1/2"); zero, negative or non-finite amounts are not prices. Currency
// names are kept as PoE writes them, lowercased ("chaos", "divine",
// "exalted", ...). The amount is for the listing as shown, i.e. the whole
// stack for stackable items.
//
// Thread-safety: pure functions.
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_PRICE_PARSER_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_PRICE_PARSER_H_

#include <optional>
#include <string>
#include <string_view>

namespace sluice::etl {

struct Price {
  std::string kind;  // "price" or "b/o"
  double amount = 0;
  std::string currency;  // lowercased
  bool operator==(const Price& o) const {
    return kind == o.kind && amount == o.amount && currency == o.currency;
  }
};

// The price in one note or tab name, or nullopt if it carries none.
std::optional<Price> ParsePrice(std::string_view text);

// Parses "N" or "A/B" into a positive finite number.
std::optional<double> ParseAmount(std::string_view text);

struct ResolvedPrice {
  Price price;
  std::string source;  // "item" (its note) or "stash" (the tab's name)
};

// The item's effective price: its own note, else its tab's name.
std::optional<ResolvedPrice> ResolvePrice(std::string_view item_note, std::string_view stash_name);

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_PRICE_PARSER_H_
