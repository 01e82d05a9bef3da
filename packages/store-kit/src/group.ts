/**
 * Items grouped by key (first-seen key order, each group in input order), for stores that write
 * the changes of one shape in one statement. Each group grows in place: a group copied to add an
 * item (`[...group, item]`) costs time quadratic in its size, and a batch of 100,000 changes of
 * one shape then blocks the event loop for minutes.
 */
export function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
